/**
 * Pairing code formats, shared by the daemon that mints codes and the node that uses them.
 *
 * PIN:  "SSS-PPPP-PPPP": 3 public selector digits that name the code (like Matter's
 *       discriminator) and 8 secret digits that are the CPace password.
 * QR:   tether://HOST:PORT/pair?v=1&c=SELECTOR&s=SECRET&fp=CAFP&exp=UNIXSECONDS
 * See docs/protocol.md, "Pairing codes".
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64Url, fromHex, toBase64Url, utf8 } from "./bytes.js";
import { CryptoError } from "./errors.js";
import { transcript } from "./transcript.js";

export const PairMethod = { Pin: "pin", Qr: "qr" } as const;
export type PairMethod = (typeof PairMethod)[keyof typeof PairMethod];

export const PIN_SELECTOR_DIGITS = 3;
export const PIN_SECRET_DIGITS = 8;
export const QR_SELECTOR_BYTES = 8;
export const QR_SECRET_BYTES = 16;
export const PAIRING_URI_SCHEME = "tether:";
export const PAIRING_URI_VERSION = "1";

/** Uniform decimal digits by rejection sampling from `randomBytes`. */
export function randomDigits(count: number, randomBytes: (n: number) => Uint8Array): string {
  let out = "";
  while (out.length < count) {
    for (const b of randomBytes(count * 2)) {
      if (b < 250 && out.length < count) out += String(b % 10);
    }
  }
  return out;
}

/**
 * Whether a PIN secret is too easy to guess: fewer than three distinct digits, an arithmetic
 * run such as 12345678, 87654321 or 13579135, or a repeated half such as 12341234.
 */
export function isTrivialPinSecret(digits: string): boolean {
  if (new Set(digits).size < 3) return true;
  const d = [...digits].map(Number);
  const step = ((d[1] as number) - (d[0] as number) + 10) % 10;
  let arithmetic = true;
  for (let i = 2; i < d.length; i++) {
    if (((d[i] as number) - (d[i - 1] as number) + 10) % 10 !== step) arithmetic = false;
  }
  if (arithmetic) return true;
  const half = digits.length / 2;
  return digits.slice(0, half) === digits.slice(half);
}

/** A fresh non-trivial 8-digit PIN secret. */
export function generatePinSecret(randomBytes: (n: number) => Uint8Array): string {
  for (;;) {
    const s = randomDigits(PIN_SECRET_DIGITS, randomBytes);
    if (!isTrivialPinSecret(s)) return s;
  }
}

/** "SSS-PPPP-PPPP" */
export function formatPin(selector: string, secret: string): string {
  return `${selector}-${secret.slice(0, 4)}-${secret.slice(4)}`;
}

/**
 * Parse a typed PIN. Spaces and dashes are ignored.
 * @throws CryptoError BAD_PIN when it is not 11 digits.
 */
export function parsePin(text: string): { selector: string; secret: string } {
  const digits = text.replace(/[\s-]/g, "");
  if (!/^\d{11}$/.test(digits)) {
    throw new CryptoError("BAD_PIN", "a PIN is 11 digits, written SSS-PPPP-PPPP");
  }
  return { selector: digits.slice(0, PIN_SELECTOR_DIGITS), secret: digits.slice(PIN_SELECTOR_DIGITS) };
}

/** Whether a selector string has the shape its method needs. */
export function isValidSelector(method: PairMethod, selector: string): boolean {
  return method === "pin" ? /^\d{3}$/.test(selector) : /^[0-9a-f]{16}$/.test(selector);
}

export type PairingUri = {
  address: string; // host:port ([v6]:port for IPv6)
  selector: string; // 16 lowercase hex
  secret: Uint8Array; // 16 bytes
  caFingerprint: string; // 64 lowercase hex: SHA-256 of the CA certificate's SubjectPublicKeyInfo
  expiresAt: number; // ms since epoch (carried in whole seconds)
};

/** tether://HOST:PORT/pair?v=1&c=SELECTOR&s=SECRET&fp=CAFP&exp=UNIXSECONDS */
export function formatPairingUri(u: PairingUri): string {
  const q = new URLSearchParams({
    v: PAIRING_URI_VERSION,
    c: u.selector,
    s: toBase64Url(u.secret),
    fp: u.caFingerprint,
    exp: String(Math.floor(u.expiresAt / 1000)),
  });
  return `tether://${u.address}/pair?${q.toString()}`;
}

/**
 * Parse and check a pairing URI.
 * @throws CryptoError BAD_URI naming the part that is wrong.
 */
export function parsePairingUri(text: string): PairingUri {
  const bad = (what: string): never => {
    throw new CryptoError("BAD_URI", `pairing URI: ${what}`);
  };
  if (text.length > 1024) bad("too long");
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return bad("not a URI");
  }
  if (url.protocol !== PAIRING_URI_SCHEME) bad(`scheme must be tether://, got ${url.protocol}//`);
  if (url.pathname !== "/pair") bad("path must be /pair");
  if (!url.hostname || !url.port) bad("address must be HOST:PORT");
  const p = url.searchParams;
  if (p.get("v") !== PAIRING_URI_VERSION) bad(`unsupported version ${JSON.stringify(p.get("v"))}`);
  const selector = p.get("c") ?? "";
  if (!isValidSelector("qr", selector)) bad("c (code selector) must be 16 hex digits");
  let secret: Uint8Array = new Uint8Array();
  try {
    secret = fromBase64Url(p.get("s") ?? "", "s");
  } catch {
    bad("s (secret) is not base64url");
  }
  if (secret.length !== QR_SECRET_BYTES) bad(`s (secret) must be ${QR_SECRET_BYTES} bytes`);
  const fp = p.get("fp") ?? "";
  if (!/^[0-9a-f]{64}$/.test(fp)) bad("fp (CA fingerprint) must be 64 lowercase hex digits");
  const exp = p.get("exp") ?? "";
  if (!/^\d{1,12}$/.test(exp)) bad("exp must be a Unix time in seconds");
  return { address: url.host, selector, secret, caFingerprint: fp, expiresAt: Number(exp) * 1000 };
}

/**
 * The CPace password (protocol v2): SHA-256(transcript("tether/pair/v2/prs", [method,
 * selector, secret])). Not stretched: CPace gives a guesser one try per handshake, online
 * only, and the daemon keeps PRS encrypted at rest (seal.ts), never in the clear.
 */
export function derivePrs(method: PairMethod, selector: string, secret: Uint8Array | string): Uint8Array {
  const s = typeof secret === "string" ? utf8(secret) : secret;
  return sha256(transcript("tether/pair/v2/prs", [method, selector, s]));
}

/** Parse a 64-hex fingerprint into 32 bytes. */
export function fingerprintBytes(hex: string): Uint8Array {
  const b = fromHex(hex, "fingerprint");
  if (b.length !== 32) throw new CryptoError("BAD_FINGERPRINT", "a fingerprint is 32 bytes");
  return b;
}
