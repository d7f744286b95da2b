/**
 * X25519 and Ed25519 through Node's native crypto (OpenSSL) for the hot paths of pairing and
 * tokens, where noble's pure-JS code costs 3-10 times more (`npm run bench -- --only pairing`
 * prints both). Same functions, same byte formats: raw 32-byte keys and scalars become
 * KeyObjects through JWK, or PKCS#8 with a fixed DER header. Also ECDSA P-256 verification,
 * for proofs made by a node's TLS key. Pure: no I/O, no clock, no randomness.
 */
import { createPrivateKey, createPublicKey, diffieHellman, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";

// PKCS#8 headers for a raw 32-byte private key (RFC 8410).
const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");
const ED25519_PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex");

function pkcs8(header: Buffer, raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([header, raw]), format: "der", type: "pkcs8" });
}

const b64u = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
/** Any 32 bytes: OpenSSL computes X25519 from the private scalar `d` alone (see x25519Private). */
const PLACEHOLDER_X = b64u(new Uint8Array(32));
let jwkPrivateWorks: boolean | undefined;

/**
 * An X25519 private KeyObject for a raw scalar. Importing PKCS#8 DER costs about 400 us in
 * Node 20 (OpenSSL's decoder also derives the public key); a JWK import costs about 40 us.
 * A JWK private key must carry `x`, which Node does not check against `d` and which
 * diffieHellman does not use, so a placeholder goes there. If a later Node refuses that,
 * the DER path is used (the answer is the same: the CPace and RFC 7748 vectors check it).
 */
function x25519Private(scalar: Uint8Array): KeyObject {
  if (jwkPrivateWorks !== false) {
    try {
      const k = createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: b64u(scalar), x: PLACEHOLDER_X }, format: "jwk" });
      jwkPrivateWorks = true;
      return k;
    } catch {
      jwkPrivateWorks = false;
    }
  }
  return pkcs8(X25519_PKCS8, scalar);
}

/** A public KeyObject from a raw 32-byte key, through JWK (10 times cheaper than SPKI DER here). */
function okpPublic(crv: "X25519" | "Ed25519", raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv, x: b64u(raw) }, format: "jwk" });
}

/**
 * X25519(scalar, u) (RFC 7748: the scalar is clamped, bit 255 of u is ignored). Returns the
 * 32 zero bytes when the result is the neutral element (OpenSSL refuses to return it).
 * Callers check lengths first.
 */
export function x25519Native(scalar: Uint8Array, u: Uint8Array): Uint8Array {
  const priv = x25519Private(scalar);
  let pub: KeyObject;
  try {
    pub = okpPublic("X25519", u);
  } catch {
    return new Uint8Array(32);
  }
  try {
    return new Uint8Array(diffieHellman({ privateKey: priv, publicKey: pub }));
  } catch {
    return new Uint8Array(32); // all-zero shared secret: a low-order input point
  }
}

/** The Ed25519 public key of a 32-byte seed. */
export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(pkcs8(ED25519_PKCS8, seed)).export({ type: "spki", format: "der" });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** Ed25519 signature (RFC 8032, deterministic) with a 32-byte seed. */
export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, pkcs8(ED25519_PKCS8, seed)));
}

/**
 * Ed25519 verification (RFC 8032, cofactorless, S < L, R compared as encoded). OpenSSL does
 * not refuse a non-canonical encoding of the public key, so callers verify only with keys
 * that passed checkIdentityKey (tether checks every identity key when it is registered).
 * False on any malformed input.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return verify(null, message, okpPublic("Ed25519", publicKey), signature);
  } catch {
    return false;
  }
}

/** Longest DER ECDSA P-256 signature: SEQUENCE { INTEGER r, INTEGER s }, each at most 33 bytes. */
const P256_DER_SIGNATURE_MAX_BYTES = 72;

/**
 * ECDSA P-256 / SHA-256 verification of a DER-encoded signature (`SEQUENCE { r, s }`, as
 * X9.62 and RFC 3279 define it) with a SubjectPublicKeyInfo DER key. OpenSSL refuses a
 * signature that is not strict DER (re-encoding must give the same bytes); high S is
 * accepted. False on any malformed input, and for a key that is not P-256.
 */
export function p256Verify(spkiDer: Uint8Array, message: Uint8Array, signatureDer: Uint8Array): boolean {
  if (signatureDer.length === 0 || signatureDer.length > P256_DER_SIGNATURE_MAX_BYTES) return false;
  try {
    const key = p256Public(spkiDer);
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") return false;
    return verify("sha256", message, { key, dsaEncoding: "der" }, signatureDer);
  } catch {
    return false;
  }
}

/** DER header of every P-256 SPKI with an uncompressed point, through the 0x04 point tag (91 bytes with X and Y). */
export const P256_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d03010703420004", "hex");

/**
 * A P-256 public KeyObject for an SPKI. The canonical form (the fixed header, then X and Y)
 * goes in as a JWK of its coordinates: OpenSSL's DER decoder costs about 220 us in Node 20, a
 * JWK import about 100 us, and both refuse a point off the curve. Anything else takes the DER path.
 */
function p256Public(spkiDer: Uint8Array): KeyObject {
  const b = Buffer.from(spkiDer.buffer, spkiDer.byteOffset, spkiDer.byteLength);
  if (b.length === P256_SPKI_PREFIX.length + 64 && P256_SPKI_PREFIX.equals(b.subarray(0, P256_SPKI_PREFIX.length))) {
    const at = P256_SPKI_PREFIX.length;
    const x = b.subarray(at, at + 32).toString("base64url");
    const y = b.subarray(at + 32).toString("base64url");
    return createPublicKey({ key: { kty: "EC", crv: "P-256", x, y }, format: "jwk" });
  }
  return createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" });
}
