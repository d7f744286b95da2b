/**
 * Byte helpers shared by every tether package: labelled length checks, hex/base64url,
 * concatenation, big-endian integers and a constant-time comparison.
 */
import { CryptoError } from "./errors.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 encode a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/**
 * Strict UTF-8 decode.
 * @throws CryptoError BAD_UTF8 when the bytes are not valid UTF-8.
 */
export function fromUtf8(b: Uint8Array, label = "value"): string {
  try {
    return decoder.decode(b);
  } catch (cause) {
    throw new CryptoError("BAD_UTF8", `"${label}" is not valid UTF-8`, { cause });
  }
}

/** Concatenate byte strings. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/**
 * Parse lowercase or uppercase hex.
 * @throws CryptoError BAD_HEX on odd length or a non-hex character.
 */
export function fromHex(s: string, label = "hex"): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new CryptoError("BAD_HEX", `"${label}" is not a hex string`);
  }
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** base64url without padding. */
export function toBase64Url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
}

/**
 * Parse base64url without padding, canonically (re-encoding gives the same string).
 * @throws CryptoError BAD_BASE64 when the text is not canonical base64url.
 */
export function fromBase64Url(s: string, label = "base64url"): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new CryptoError("BAD_BASE64", `"${label}" is not base64url`);
  const out = new Uint8Array(Buffer.from(s, "base64url"));
  if (toBase64Url(out) !== s) throw new CryptoError("BAD_BASE64", `"${label}" is not canonical base64url`);
  return out;
}

/** 4-byte big-endian unsigned integer. */
export function u32be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new CryptoError("BAD_INTEGER", `u32 out of range: ${n}`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

/** 8-byte big-endian unsigned integer (for millisecond timestamps). */
export function u64be(n: number | bigint): Uint8Array {
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 64n) throw new CryptoError("BAD_INTEGER", `u64 out of range: ${n}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

/**
 * Labelled input check: `value` must be a byte array of exactly `length` bytes
 * (or, when `length` is a [min, max] pair, within that range).
 * @throws CryptoError BAD_LENGTH naming the field, the expected and the actual length.
 */
export function bytes(value: unknown, length: number | readonly [number, number], label: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new CryptoError("BAD_TYPE", `"${label}" expected bytes, got ${value === null ? "null" : typeof value}`);
  }
  if (typeof length === "number") {
    if (value.length !== length) {
      throw new CryptoError("BAD_LENGTH", `"${label}" expected ${length} bytes, got ${value.length}`);
    }
  } else if (value.length < length[0] || value.length > length[1]) {
    throw new CryptoError("BAD_LENGTH", `"${label}" expected ${length[0]}..${length[1]} bytes, got ${value.length}`);
  }
  return value;
}

/**
 * Constant-time equality of two byte strings. The running time depends only on the
 * lengths, never on where the first difference is.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** Overwrite a secret buffer with zeros (best effort in a garbage-collected runtime). */
export function wipe(b: Uint8Array): void {
  b.fill(0);
}
