/**
 * The one error class of @tether/store-pg. Its codes are @tether/store's where they mean the
 * same thing, so that one mapping (to gRPC statuses, to exit codes) can serve both backends:
 * - UNAVAILABLE: PostgreSQL cannot be reached (refused, no socket, timed out, the server shut
 *   down or the connection dropped); nothing was written by the call that got it, or, for a
 *   batch whose COMMIT was in flight, its outcome is unknown (the message says which);
 * - OPEN_FAILED: the database refused the store for another reason (authentication, no such
 *   database, a migration failed);
 * - UNSUPPORTED: the database's schema is newer than this version knows;
 * - OUTDATED: older, and the caller asked that only a fresh database be set up at open;
 * - CORRUPT: a stored value is not the JSON record it must be;
 * - WRITE_FAILED: a batch failed and was rolled back (nothing of it is written). Unlike the
 *   LevelDB store this does not fail closed: a rolled-back transaction leaves no doubt;
 * - READ_FAILED: a read failed for a reason other than the connection;
 * - LOCKED: another process holds the database's writer lock (PgStoreOptions.exclusive);
 * - CONFLICT: a batch's expectations (compare-and-set) did not hold; nothing of it is written;
 * - CLOSED: the store is closing or closed;
 * - NO_TABLE, NOT_AUDITED, BAD_ID (an id that is not a string): a caller's mistake.
 */
import type { Conflict } from "@tether/base";

export type PgStoreErrorCode =
  | "UNAVAILABLE"
  | "LOCKED"
  | "OPEN_FAILED"
  | "UNSUPPORTED"
  | "OUTDATED"
  | "CORRUPT"
  | "WRITE_FAILED"
  | "READ_FAILED"
  | "CONFLICT"
  | "CLOSED"
  | "NO_TABLE"
  | "NOT_AUDITED"
  | "BAD_ID";

export class PgStoreError extends Error {
  readonly code: PgStoreErrorCode;
  /** CONFLICT: the records whose expectations did not hold */
  readonly conflicts: readonly Conflict[];
  constructor(code: PgStoreErrorCode, message: string, options?: { cause?: unknown; conflicts?: readonly Conflict[] }) {
    super(message, options);
    this.name = "PgStoreError";
    this.code = code;
    this.conflicts = options?.conflicts ?? [];
  }
}
