/**
 * Labelled input checks shared by the public functions of `@tether/ca`.
 * Each throws `CaError("BAD_INPUT")` naming the offending argument.
 */
import { CaError } from "./errors.js";
import type { RandomBytes } from "./defaults.js";
import { SERIAL_BYTES } from "./defaults.js";

/** Require a non-empty Uint8Array; `code` lets key checks report BAD_PUBLIC_KEY etc. */
export function nonEmptyBytes(value: unknown, label: string, code: CaError["code"] = "BAD_INPUT"): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new CaError(code, `"${label}" expected Uint8Array, got ${describe(value)}`);
  }
  if (value.length === 0) throw new CaError(code, `"${label}" expected non-empty bytes, got 0 bytes`);
  return value;
}

/** Require a finite, non-negative, integral millisecond timestamp. */
export function timestamp(value: unknown, label: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new CaError("BAD_INPUT", `"${label}" expected integer ms since epoch, got ${describe(value)}`);
  }
  return value;
}

/** Require a positive integral duration in ms, or return `fallback` when undefined. */
export function lifetime(value: unknown, fallback: number, label: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new CaError("BAD_INPUT", `"${label}" expected positive integer ms, got ${describe(value)}`);
  }
  return value;
}

/** Require a non-empty string of at most `max` characters matching `pattern`. */
export function text(value: unknown, label: string, pattern: RegExp, max: number): string {
  if (typeof value !== "string") {
    throw new CaError("BAD_INPUT", `"${label}" expected string, got ${describe(value)}`);
  }
  if (value.length === 0 || value.length > max) {
    throw new CaError("BAD_INPUT", `"${label}" expected 1..${max} characters, got ${value.length}`);
  }
  if (!pattern.test(value)) {
    throw new CaError("BAD_INPUT", `"${label}" has characters outside ${String(pattern)}`);
  }
  return value;
}

/**
 * Draw a serial number from the injected randomness: 16 bytes, top bit cleared (positive
 * INTEGER) and the next bit set, so the DER encoding is always exactly 16 bytes, never
 * needs a sign byte and never has leading zeros: 126 random bits. Returns lowercase hex.
 */
export function randomSerialHex(randomBytes: RandomBytes, label: string): string {
  if (typeof randomBytes !== "function") {
    throw new CaError("BAD_INPUT", `"${label}" expected function, got ${describe(randomBytes)}`);
  }
  const raw: unknown = randomBytes(SERIAL_BYTES);
  if (!(raw instanceof Uint8Array) || raw.length !== SERIAL_BYTES) {
    throw new CaError("BAD_INPUT", `"${label}" expected to return ${SERIAL_BYTES} bytes, got ${raw instanceof Uint8Array ? `${raw.length} bytes` : describe(raw)}`);
  }
  const serial = Uint8Array.from(raw);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(serial).toString("hex");
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (typeof value === "number") return String(value);
  return typeof value;
}
