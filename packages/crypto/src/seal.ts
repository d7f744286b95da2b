/**
 * Secrets at rest: AES-256-GCM under a key the caller keeps outside the store (the daemon's
 * `ca/seal.key`), with associated data that binds a sealed value to its record, so that it
 * cannot be moved to another record. The nonce comes from the injected randomness.
 * Format: nonce (12) ‖ ciphertext ‖ tag (16).
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { bytes, utf8 } from "./bytes.js";
import { CryptoError } from "./errors.js";

export const SEAL_KEY_BYTES = 32;
const NONCE = 12;
const TAG = 16;

/** What the pairing manager stores secrets with. */
export interface Sealer {
  seal(plain: Uint8Array, aad: string): Uint8Array;
  /** @throws CryptoError BAD_SEAL when the value was changed, moved, or sealed under another key. */
  open(sealed: Uint8Array, aad: string): Uint8Array;
}

/**
 * A sealer with `key` (32 bytes) and a source of random nonces.
 * @throws CryptoError BAD_LENGTH for a key that is not 32 bytes.
 */
export function createSealer(key: Uint8Array, randomBytes: (n: number) => Uint8Array): Sealer {
  const k = Buffer.from(bytes(key, SEAL_KEY_BYTES, "sealKey"));
  return {
    seal(plain, aad) {
      const nonce = bytes(randomBytes(NONCE), NONCE, "nonce");
      const c = createCipheriv("aes-256-gcm", k, nonce);
      c.setAAD(utf8(aad));
      const body = Buffer.concat([c.update(plain), c.final()]);
      return new Uint8Array(Buffer.concat([nonce, body, c.getAuthTag()]));
    },
    open(sealed, aad) {
      if (!(sealed instanceof Uint8Array) || sealed.length < NONCE + TAG) throw new CryptoError("BAD_SEAL", "sealed value is too short");
      try {
        const d = createDecipheriv("aes-256-gcm", k, sealed.subarray(0, NONCE));
        d.setAAD(utf8(aad));
        d.setAuthTag(sealed.subarray(sealed.length - TAG));
        return new Uint8Array(Buffer.concat([d.update(sealed.subarray(NONCE, sealed.length - TAG)), d.final()]));
      } catch (cause) {
        throw new CryptoError("BAD_SEAL", "sealed value does not open with this key (changed, moved, or another key)", { cause });
      }
    },
  };
}
