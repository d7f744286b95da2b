/**
 * Loads `@peculiar/x509` with its prerequisites and binds it to Node's WebCrypto.
 * Every module in this package imports x509 from here so the order is guaranteed.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// @peculiar/x509 types its provider as the DOM `Crypto`; Node's webcrypto implements it.
x509.cryptoProvider.set(webcrypto);

/** ECDSA P-256 parameters for WebCrypto key import and generation. */
export const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
/** ECDSA with SHA-256, the only signature algorithm this CA uses. */
export const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

export { x509, webcrypto };
