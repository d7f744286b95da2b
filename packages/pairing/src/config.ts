/** Pairing defaults, as named constants, resolved once into a frozen config. */

export const DEFAULT_CODE_TTL_MS = 5 * 60_000;
export const MIN_CODE_TTL_MS = 10_000;
export const MAX_CODE_TTL_MS = 60 * 60_000;
/** Handshakes a code allows before it is burned (each Start counts, the successful one too). */
export const MAX_CODE_ATTEMPTS = 5;
export const MAX_ACTIVE_CODES = 256;
/** How long the daemon waits between Start and Finish. */
export const SESSION_TTL_MS = 60_000;
export const MAX_SESSIONS = 1024;
export const DEFAULT_REQUEST_TTL_MS = 15 * 60_000;
/**
 * How far a signed timestamp (Await, Renew, IssuePeerCertificate) may be from the daemon's
 * clock. Twice the clock skew tether promises to tolerate (5 minutes either way), so that a
 * node exactly 5 minutes off still passes with room for transit time (docs/operations.md).
 */
export const SIGNED_TIMESTAMP_WINDOW_MS = 10 * 60_000;
/**
 * How long after its certificate expired a device may return by its identity key alone
 * (Pairing.Return, docs/fleet.md §5A.5); past it, its return waits for an admin. 0: every
 * return waits.
 */
export const DEFAULT_RETURN_GRACE_MS = 30 * 24 * 60 * 60_000;
/** A device's last-seen time is written at most this often when nothing else changed. */
export const PRESENCE_WRITE_INTERVAL_MS = 60_000;

export type PairingConfig = Readonly<{
  defaultCodeTtlMs: number;
  maxCodeTtlMs: number;
  maxCodeAttempts: number;
  maxActiveCodes: number;
  sessionTtlMs: number;
  maxSessions: number;
  requestTtlMs: number;
  timestampWindowMs: number;
  returnGraceMs: number;
}>;

/** @throws RangeError when an override leaves the documented bounds. */
export function resolvePairingConfig(o: Partial<PairingConfig> = {}): PairingConfig {
  if (o.maxCodeAttempts !== undefined && (o.maxCodeAttempts < 1 || o.maxCodeAttempts > 10)) {
    throw new RangeError("maxCodeAttempts must be 1..10");
  }
  if (o.maxCodeTtlMs !== undefined && (o.maxCodeTtlMs < MIN_CODE_TTL_MS || o.maxCodeTtlMs > MAX_CODE_TTL_MS)) {
    throw new RangeError("maxCodeTtlMs must be between 10 s and 1 h");
  }
  return Object.freeze({
    defaultCodeTtlMs: o.defaultCodeTtlMs ?? DEFAULT_CODE_TTL_MS,
    maxCodeTtlMs: o.maxCodeTtlMs ?? MAX_CODE_TTL_MS,
    maxCodeAttempts: o.maxCodeAttempts ?? MAX_CODE_ATTEMPTS,
    maxActiveCodes: o.maxActiveCodes ?? MAX_ACTIVE_CODES,
    sessionTtlMs: o.sessionTtlMs ?? SESSION_TTL_MS,
    maxSessions: o.maxSessions ?? MAX_SESSIONS,
    requestTtlMs: o.requestTtlMs ?? DEFAULT_REQUEST_TTL_MS,
    timestampWindowMs: o.timestampWindowMs ?? SIGNED_TIMESTAMP_WINDOW_MS,
    returnGraceMs: o.returnGraceMs ?? DEFAULT_RETURN_GRACE_MS,
  });
}
