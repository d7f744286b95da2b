/**
 * The one error class of @tether/store. Codes:
 * - LOCKED: another process has the store open;
 * - OPEN_FAILED: LevelDB cannot open it for another reason (permissions, I/O);
 * - UNSUPPORTED: a schema this version does not know;
 * - DAMAGED: the store failed its checks at open (`problems` says what was found);
 * - CORRUPT: a record read fails its checksum, or LevelDB reports corruption on a read;
 * - WRITE_FAILED: a write failed (disk full, I/O error), or an earlier one did: the store
 *   refuses every write after its first failure;
 * - CONFLICT: a batch's expectations (compare-and-set) did not hold; nothing of it is written;
 * - CLOSED: the store is closing or closed;
 * - NO_TABLE, NOT_AUDITED: a caller's mistake.
 */
import type { Conflict } from "@tether/base";
import type { StoreProblem } from "./integrity.js";

export type StoreErrorCode = "LOCKED" | "OPEN_FAILED" | "UNSUPPORTED" | "DAMAGED" | "CORRUPT" | "WRITE_FAILED" | "CONFLICT" | "CLOSED" | "NO_TABLE" | "NOT_AUDITED";

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** DAMAGED: every problem found */
  readonly problems: readonly StoreProblem[];
  /** CONFLICT: the records whose expectations did not hold */
  readonly conflicts: readonly Conflict[];
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown; problems?: readonly StoreProblem[]; conflicts?: readonly Conflict[] }) {
    super(message, options);
    this.name = "StoreError";
    this.code = code;
    this.problems = options?.problems ?? [];
    this.conflicts = options?.conflicts ?? [];
  }
}
