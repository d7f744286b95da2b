/**
 * A minimal DER writer (and a reader just large enough to cut fields out of certificates),
 * covering the ASN.1 types tether's certificates and CRLs use. Pure: no I/O, no clock.
 * Every writer returns the complete TLV; constructed values take already-encoded children.
 */
import { CaError } from "./errors.js";

/** Universal and context tags used by X.509 (RFC 5280). */
export const Tag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Oid: 0x06,
  Utf8String: 0x0c,
  PrintableString: 0x13,
  Ia5String: 0x16,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  Sequence: 0x30,
  Set: 0x31,
} as const;

/**
 * One TLV: `tag`, the DER (definite, minimal) length, then the concatenated `contents`.
 * @throws {CaError} `BAD_INPUT` if `tag` is not a single-byte tag.
 */
export function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new CaError("BAD_INPUT", `"tag" expected a single-byte DER tag, got ${tag}`);
  }
  let length = 0;
  for (const c of contents) length += c.length;
  const header = lengthBytes(length);
  const out = new Uint8Array(1 + header.length + length);
  out[0] = tag;
  out.set(header, 1);
  let at = 1 + header.length;
  for (const c of contents) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** SEQUENCE of already-encoded elements. */
export function sequence(...elements: Uint8Array[]): Uint8Array {
  return tlv(Tag.Sequence, ...elements);
}

/** SET of already-encoded elements, in the given order (callers pass one element, or sorted ones). */
export function set(...elements: Uint8Array[]): Uint8Array {
  return tlv(Tag.Set, ...elements);
}

/**
 * `[n] EXPLICIT`: a constructed context tag wrapping already-encoded elements.
 * @throws {CaError} `BAD_INPUT` if `n` is not 0..30.
 */
export function explicit(n: number, ...elements: Uint8Array[]): Uint8Array {
  return tlv(0xa0 | contextNumber(n), ...elements);
}

/**
 * `[n] IMPLICIT` over a primitive type: a primitive context tag around raw content octets.
 * @throws {CaError} `BAD_INPUT` if `n` is not 0..30.
 */
export function implicitPrimitive(n: number, content: Uint8Array): Uint8Array {
  return tlv(0x80 | contextNumber(n), content);
}

/** BOOLEAN (DER: TRUE is 0xff). */
export function boolean(value: boolean): Uint8Array {
  return tlv(Tag.Boolean, Uint8Array.of(value ? 0xff : 0x00));
}

/**
 * A non-negative INTEGER from big-endian magnitude bytes: leading zero bytes are dropped
 * and a 0x00 is prepended when the high bit is set, so the value stays positive. Empty
 * input encodes zero.
 */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  let first = 0;
  while (first < magnitude.length - 1 && magnitude[first] === 0) first++;
  const body = magnitude.subarray(first);
  if (body.length === 0) return tlv(Tag.Integer, Uint8Array.of(0));
  return (body[0] ?? 0) & 0x80 ? tlv(Tag.Integer, Uint8Array.of(0), body) : tlv(Tag.Integer, body);
}

/**
 * A non-negative INTEGER from a safe integer.
 * @throws {CaError} `BAD_INPUT` if `value` is not a non-negative safe integer.
 */
export function smallInteger(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CaError("BAD_INPUT", `"value" expected a non-negative safe integer, got ${value}`);
  }
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  return unsignedInteger(Uint8Array.from(bytes));
}

/**
 * OBJECT IDENTIFIER from dotted decimal (`"2.5.29.19"`).
 * @throws {CaError} `BAD_INPUT` if `dotted` is not a valid OID.
 */
export function oid(dotted: string): Uint8Array {
  const arcs = /^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted) ? dotted.split(".").map(Number) : [];
  const [a = 0, b = 0] = arcs;
  if (arcs.length < 2 || (a < 2 && b > 39) || arcs.some((x) => !Number.isSafeInteger(x))) {
    throw new CaError("BAD_INPUT", `"oid" expected a dotted OBJECT IDENTIFIER, got ${JSON.stringify(dotted)}`);
  }
  const out: number[] = [];
  for (const arc of [a * 40 + b, ...arcs.slice(2)]) {
    const base128: number[] = [];
    let v = arc;
    do {
      base128.unshift((v % 128) | (base128.length === 0 ? 0 : 0x80));
      v = Math.floor(v / 128);
    } while (v > 0);
    out.push(...base128);
  }
  return tlv(Tag.Oid, Uint8Array.from(out));
}

/** OCTET STRING. */
export function octetString(content: Uint8Array): Uint8Array {
  return tlv(Tag.OctetString, content);
}

/**
 * BIT STRING: the unused-bits count, then the bits.
 * @throws {CaError} `BAD_INPUT` if `unusedBits` is not 0..7 (0 for empty content).
 */
export function bitString(content: Uint8Array, unusedBits = 0): Uint8Array {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (content.length === 0 && unusedBits !== 0)) {
    throw new CaError("BAD_INPUT", `"unusedBits" expected 0..7, got ${unusedBits}`);
  }
  return tlv(Tag.BitString, Uint8Array.of(unusedBits), content);
}

/** UTF8String. */
export function utf8String(value: string): Uint8Array {
  return tlv(Tag.Utf8String, Buffer.from(value, "utf8"));
}

/** Characters of the ASN.1 PrintableString alphabet (X.680, 41.4). */
const PRINTABLE_RE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** True if `value` fits the PrintableString alphabet. */
export function isPrintable(value: string): boolean {
  return PRINTABLE_RE.test(value);
}

/**
 * PrintableString.
 * @throws {CaError} `BAD_INPUT` if `value` has characters outside the PrintableString alphabet.
 */
export function printableString(value: string): Uint8Array {
  if (!isPrintable(value)) throw new CaError("BAD_INPUT", `"value" has characters outside PrintableString`);
  return tlv(Tag.PrintableString, Buffer.from(value, "latin1"));
}

/**
 * IA5String (ASCII), or its bytes under another tag such as a GeneralName's `[2]` / `[6]`.
 * @throws {CaError} `BAD_INPUT` if `value` is not 7-bit ASCII.
 */
export function ia5String(value: string, tag: number = Tag.Ia5String): Uint8Array {
  if (!/^[\u0000-\u007f]*$/.test(value)) throw new CaError("BAD_INPUT", `"value" is not IA5 (ASCII)`);
  return tlv(tag, Buffer.from(value, "latin1"));
}

/**
 * RFC 5280 Time: UTCTime (`YYMMDDHHMMSSZ`) for years 1950..2049, GeneralizedTime
 * (`YYYYMMDDHHMMSSZ`) for 2050..9999 (4.1.2.5). Milliseconds are dropped, never encoded.
 * @throws {CaError} `BAD_INPUT` if `ms` is not a finite time in 1950..9999, naming `label`.
 */
export function time(ms: number, label: string): Uint8Array {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (!Number.isFinite(ms) || Number.isNaN(year) || year < 1950 || year > 9999) {
    throw new CaError("BAD_INPUT", `"${label}" expected a time in years 1950..9999, got ${ms}`);
  }
  const two = (n: number): string => String(n).padStart(2, "0");
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return year <= 2049 ? tlv(Tag.UtcTime, Buffer.from(`${two(year % 100)}${rest}`, "latin1")) : tlv(Tag.GeneralizedTime, Buffer.from(`${year}${rest}`, "latin1"));
}

/** Where one TLV sits inside a buffer: `start` (tag byte), `contentStart` and `end` (exclusive). */
export type Element = { tag: number; start: number; contentStart: number; end: number };

/**
 * Read the TLV starting at `offset`, requiring a single-byte tag and a definite length that
 * ends inside `limit` (default: the end of `bytes`).
 * @throws {CaError} `code` (default `BAD_INPUT`) if the bytes there are not such a TLV.
 */
export function readElement(bytes: Uint8Array, offset: number, limit: number = bytes.length, code: CaError["code"] = "BAD_INPUT"): Element {
  const fail = (why: string): never => {
    throw new CaError(code, `DER element at offset ${offset}: ${why}`);
  };
  const tag = bytes[offset];
  let first = bytes[offset + 1];
  if (tag === undefined || first === undefined || offset + 2 > limit) return fail("truncated header");
  if ((tag & 0x1f) === 0x1f) return fail("multi-byte tags are not supported");
  let contentStart = offset + 2;
  let length = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) return fail("indefinite or oversized length");
    if (contentStart + n > limit) return fail("truncated length");
    length = 0;
    for (let i = 0; i < n; i++) {
      first = bytes[contentStart + i] ?? 0;
      length = length * 256 + first;
    }
    contentStart += n;
  }
  const end = contentStart + length;
  if (end > limit) return fail("content runs past its container");
  return { tag, start: offset, contentStart, end };
}

/**
 * The children of the constructed element `parent` (an {@link Element} of `bytes`), in order.
 * @throws {CaError} `code` if a child is malformed or does not exactly fill the parent.
 */
export function readChildren(bytes: Uint8Array, parent: Element, code: CaError["code"] = "BAD_INPUT"): Element[] {
  const children: Element[] = [];
  for (let at = parent.contentStart; at < parent.end;) {
    const child = readElement(bytes, at, parent.end, code);
    children.push(child);
    at = child.end;
  }
  return children;
}

function lengthBytes(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let v = length; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

function contextNumber(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new CaError("BAD_INPUT", `"n" expected a context tag 0..30, got ${n}`);
  return n;
}
