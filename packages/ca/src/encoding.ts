/**
 * PEM <-> DER conversion and SHA-256 fingerprints (lowercase hex) of certificates and keys.
 */
import { createHash } from "node:crypto";
import { nonEmptyBytes } from "./checks.js";
import { CaError } from "./errors.js";

/** PEM labels this package writes and reads. */
export type PemLabel = "CERTIFICATE" | "PRIVATE KEY";

const PEM_RE = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END \1-----\r?\n?$/;

/**
 * Wrap DER bytes as PEM with 64-column base64 lines and a trailing newline.
 * @throws {CaError} `BAD_INPUT` if `der` is not a non-empty Uint8Array or `label` is unknown.
 */
export function derToPem(der: Uint8Array, label: PemLabel): string {
  nonEmptyBytes(der, "der");
  if (label !== "CERTIFICATE" && label !== "PRIVATE KEY") {
    throw new CaError("BAD_INPUT", `"label" expected CERTIFICATE or PRIVATE KEY, got ${String(label)}`);
  }
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * Decode exactly one PEM block to DER. Surrounding whitespace is ignored; anything else
 * (a second block, stray text, bad base64) is rejected.
 * @param expectedLabel if given, the block's label must equal it.
 * @throws {CaError} `BAD_PEM` if the text is not one well-formed block with the expected label.
 */
export function pemToDer(pem: string, expectedLabel?: PemLabel): Uint8Array {
  if (typeof pem !== "string") throw new CaError("BAD_PEM", `"pem" expected string, got ${typeof pem}`);
  const match = PEM_RE.exec(pem.trim() + "\n");
  if (match === null) throw new CaError("BAD_PEM", `"pem" is not a single PEM block`);
  const label = match[1] ?? "";
  if (expectedLabel !== undefined && label !== expectedLabel) {
    throw new CaError("BAD_PEM", `"pem" expected label ${expectedLabel}, got ${label}`);
  }
  const b64 = (match[2] ?? "").replace(/\r?\n/g, "");
  if (b64.length === 0 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new CaError("BAD_PEM", `"pem" body is not valid base64`);
  }
  return new Uint8Array(Buffer.from(b64, "base64"));
}

/**
 * Hex SHA-256 of a whole certificate's DER encoding.
 * @throws {CaError} `BAD_INPUT` if `certDer` is not a non-empty Uint8Array.
 */
export function certFingerprint(certDer: Uint8Array): string {
  return sha256Hex(nonEmptyBytes(certDer, "certDer"));
}

/**
 * Hex SHA-256 of a SubjectPublicKeyInfo DER encoding. For the CA certificate's SPKI this
 * is the "CA fingerprint" pinned in pairing QR codes.
 * @throws {CaError} `BAD_INPUT` if `spkiDer` is not a non-empty Uint8Array.
 */
export function spkiFingerprint(spkiDer: Uint8Array): string {
  return sha256Hex(nonEmptyBytes(spkiDer, "spkiDer"));
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
