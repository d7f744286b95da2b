/**
 * EC P-256 key handling: strict validation of SPKI and PKCS#8 DER (the latter yielding the
 * CA's signing KeyObject), and key-pair generation. Only P-256 is accepted anywhere in tether's PKI.
 */
import { ECDH, createPrivateKey, createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { P256_SPKI_PREFIX } from "@tether/crypto";
import { nonEmptyBytes } from "./checks.js";
import { CaError } from "./errors.js";
import { EC_P256, webcrypto } from "./provider.js";

const P256_SPKI_LENGTH = 91;

/**
 * Parse `spkiDer` and require a P-256 public key in the one canonical encoding: named-curve
 * parameters and an uncompressed point on the curve, nothing trailing. Compressed points are
 * refused because several TLS stacks (Go's crypto/x509 among them) cannot parse them, and a
 * single encoding keeps SPKI fingerprints computed on either side equal. Returns a copy.
 * @throws {CaError} `BAD_PUBLIC_KEY` for empty bytes, non-DER, non-EC, other curves,
 *   compressed points or trailing data.
 */
export function requireP256Spki(spkiDer: unknown, label: string): Uint8Array {
  const bytes = nonEmptyBytes(spkiDer, label, "BAD_PUBLIC_KEY");
  // Fast path, taken by every good key: with the canonical header in place the bytes are
  // canonical exactly when the point is on the curve with reduced coordinates, which
  // ECDH.convertKey checks in about a tenth of the time of createPublicKey + export.
  if (bytes.length === P256_SPKI_LENGTH && P256_SPKI_PREFIX.equals(bytes.subarray(0, P256_SPKI_PREFIX.length)) && isP256Point(bytes.subarray(P256_SPKI_PREFIX.length - 1))) {
    return Uint8Array.from(bytes);
  }
  // Slow path: find out what is wrong, for the error message.
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(bytes), format: "der", type: "spki" });
  } catch (cause) {
    throw new CaError("BAD_PUBLIC_KEY", `"${label}" is not a DER SubjectPublicKeyInfo`, { cause });
  }
  requireP256(key, label, "BAD_PUBLIC_KEY");
  const canonical = key.export({ format: "der", type: "spki" });
  if (bytes.length !== P256_SPKI_LENGTH || !P256_SPKI_PREFIX.equals(bytes.subarray(0, P256_SPKI_PREFIX.length)) || !canonical.equals(bytes)) {
    throw new CaError("BAD_PUBLIC_KEY", `"${label}" is not a canonical uncompressed P-256 SPKI (${bytes.length} bytes)`);
  }
  return Uint8Array.from(bytes);
}

/**
 * Parse a PKCS#8 DER P-256 private key and return it with its public key's SPKI DER.
 * @throws {CaError} `BAD_PRIVATE_KEY` if the bytes are not a PKCS#8 P-256 private key.
 */
export function parseP256Pkcs8(pkcs8Der: unknown, label: string): { key: KeyObject; publicKeySpkiDer: Uint8Array } {
  const bytes = nonEmptyBytes(pkcs8Der, label, "BAD_PRIVATE_KEY");
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(bytes), format: "der", type: "pkcs8" });
  } catch (cause) {
    throw new CaError("BAD_PRIVATE_KEY", `"${label}" is not a DER PKCS#8 private key`, { cause });
  }
  requireP256(key, label, "BAD_PRIVATE_KEY");
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  return { key, publicKeySpkiDer: new Uint8Array(spki) };
}

/**
 * Generate an extractable ECDSA P-256 key pair with WebCrypto and export it as DER.
 * Key generation uses the platform CSPRNG, not injected randomness.
 * @throws {Error} only if the platform's WebCrypto fails (not expected on Node >= 20).
 */
export async function generateP256KeyPair(): Promise<{
  publicKeySpkiDer: Uint8Array;
  privateKeyPkcs8Der: Uint8Array;
}> {
  const pair = await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const [spki, pkcs8] = await Promise.all([webcrypto.subtle.exportKey("spki", pair.publicKey), webcrypto.subtle.exportKey("pkcs8", pair.privateKey)]);
  return { publicKeySpkiDer: new Uint8Array(spki), privateKeyPkcs8Der: new Uint8Array(pkcs8) };
}

/** True if `uncompressed` (0x04 || X || Y) is a point on P-256 with coordinates below p. */
function isP256Point(uncompressed: Uint8Array): boolean {
  try {
    ECDH.convertKey(uncompressed, "prime256v1");
    return true;
  } catch {
    return false;
  }
}

function requireP256(key: KeyObject, label: string, code: "BAD_PUBLIC_KEY" | "BAD_PRIVATE_KEY"): void {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== "ec" || curve !== "prime256v1") {
    throw new CaError(code, `"${label}" expected an EC P-256 key, got ${key.asymmetricKeyType ?? "unknown"}${curve !== undefined ? ` (${curve})` : ""}`);
  }
}
