/** Fingerprints: lowercase hex SHA-256. */
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex } from "./bytes.js";

/** Lowercase hex SHA-256 of bytes (certificate and key fingerprints). */
export function sha256Hex(b: Uint8Array): string {
  return toHex(sha256(b));
}
