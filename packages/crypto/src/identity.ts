/**
 * Node identity: a long-term Ed25519 key (RFC 8032), and the device id derived from its public
 * key so that an id cannot be claimed without the key. Keys are checked strictly (canonical,
 * not of small order) when registered; signing and verifying run natively (native.ts).
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytes, concat, utf8 } from "./bytes.js";
import { CryptoError } from "./errors.js";
import { ed25519PublicKey, ed25519Sign, ed25519Verify } from "./native.js";

export const DEVICE_ID_PREFIX = "dev_";
const DEVICE_ID_RE = /^dev_[a-z2-7]{26}$/;

/**
 * Check an Ed25519 public key: 32 bytes, a canonical encoding of a curve point, and not of
 * small order.
 * @throws CryptoError BAD_LENGTH, BAD_IDENTITY_KEY or WEAK_IDENTITY_KEY.
 */
export function checkIdentityKey(key: unknown, label = "identityKey"): Uint8Array {
  const b = bytes(key, 32, label);
  let point;
  try {
    point = ed25519.Point.fromBytes(b, false);
  } catch (cause) {
    throw new CryptoError("BAD_IDENTITY_KEY", `"${label}" is not a valid Ed25519 public key`, { cause });
  }
  if (point.isSmallOrder()) throw new CryptoError("WEAK_IDENTITY_KEY", `"${label}" is a small-order point`);
  return b;
}

/** Make an identity key pair from 32 random bytes supplied by the caller. */
export function identityFromSeed(seed: Uint8Array): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const secretKey = Uint8Array.from(bytes(seed, 32, "seed"));
  return { secretKey, publicKey: ed25519PublicKey(secretKey) };
}

/** Ed25519 signature with the identity key. */
export function identitySign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519Sign(bytes(secretKey, 32, "secretKey"), message);
}

/**
 * RFC 8032 Ed25519 verification (cofactorless, S < L, non-ZIP-215) of a key that passed
 * checkIdentityKey; false on any malformed input.
 */
export function identityVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return ed25519Verify(publicKey, message, signature);
}

const B32 = "abcdefghijklmnopqrstuvwxyz234567";

/** RFC 4648 base32, lowercase, without padding. */
export function base32(b: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const x of b) {
    acc = (acc << 8) | x;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/** device id = "dev_" || base32(SHA-256("tether/device-id/v1" || identityKey))[0..26], lowercase. */
export function deviceIdFromIdentityKey(identityKey: Uint8Array): string {
  const h = sha256(concat(utf8("tether/device-id/v1"), bytes(identityKey, 32, "identityKey")));
  return DEVICE_ID_PREFIX + base32(h).slice(0, 26);
}

/** Whether a string has the shape of a device id. */
export function isDeviceId(s: string): boolean {
  return DEVICE_ID_RE.test(s);
}
