/**
 * Named defaults and the injected-dependency types (clock, randomness) of `@tether/ca`.
 */
import { PAIRING_SIGNER_COMMON_NAME } from "@tether/crypto";

/** A source of wall-clock time, injected so that issuing is deterministic in tests. */
export type Clock = { now(): number };

/** A source of cryptographically secure random bytes; must return exactly `n` bytes. */
export type RandomBytes = (n: number) => Uint8Array;

/** Root CA certificate lifetime: 10 years (3652 days, leap days included). */
export const DEFAULT_CA_LIFETIME_MS = 3652 * 24 * 60 * 60_000;
/** Node client certificate lifetime: 24 hours; nodes renew well before this. */
export const DEFAULT_NODE_CERT_LIFETIME_MS = 24 * 60 * 60_000;
/** Daemon server (and pairing signer) certificate lifetime: 90 days. */
export const DEFAULT_SERVER_CERT_LIFETIME_MS = 90 * 24 * 60 * 60_000;
/**
 * notBefore is set this far before `now`, so that peers whose clocks are behind the daemon's
 * accept new certificates at once. tether tolerates 5 minutes of skew either way; the backdate
 * is twice that, so a peer exactly 5 minutes behind is not at the edge (docs/operations.md).
 */
export const CLOCK_SKEW_BACKDATE_MS = 10 * 60_000;
/** Length of generated serial numbers in bytes (RFC 5280 allows up to 20; CA/B asks for >= 64 random bits). */
export const SERIAL_BYTES = 16;
/** Prefix of the SAN URI that carries a node's device id. */
export const DEVICE_URI_PREFIX = "urn:tether:device:";
/** Prefix of the SAN URI that names a replica daemon in its client certificate (docs/scaling.md). */
export const REPLICA_URI_PREFIX = "urn:tether:replica:";
/** Lifetime of a replica's client certificate: short, since a replica issues itself a new one at each connection. */
export const REPLICA_CERT_LIFETIME_MS = 24 * 60 * 60_000;
/** Common name of the daemon's pairing-signer certificate. */
/** Shared with the node, which checks the signer profile. */
export const SIGNER_COMMON_NAME = PAIRING_SIGNER_COMMON_NAME;
/** Common name of the daemon's TLS server certificate. */
export const SERVER_COMMON_NAME = "tether daemon";
/** Organisation (O=) placed in every subject this CA writes. */
export const ORGANIZATION = "tether";
