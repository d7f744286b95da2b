/**
 * The one place where errors become gRPC statuses. The cause is logged in full; the client
 * gets the stable message of a known error, or "internal error". A refusal's message is
 * clipped (REFUSAL_MESSAGE_MAX_CHARS) in both the status and the log line, so no message
 * can carry a caller's long text back out.
 */
import { status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { clip } from "@tether/base";
import { CaError } from "@tether/ca";
import { CryptoError } from "@tether/crypto";
import { JobError } from "@tether/jobs";
import type { JobErrorCode } from "@tether/jobs";
import { PairingError } from "@tether/pairing";
import type { PairingErrorCode } from "@tether/pairing";
import { StoreError } from "@tether/store";
import type { StoreProblem } from "@tether/store";
import type { Logger } from "./log.js";

/** Longest refusal message sent or logged (messages are short sentences; this is a bound). */
export const REFUSAL_MESSAGE_MAX_CHARS = 512;

/** The daemon's own error class (startup and admin-side failures). */
export class DaemonError extends Error {
  readonly code: string;
  /** the gRPC status when this error is sent to a client */
  readonly status: status;
  /** an expected refusal that may come in floods (RATE_LIMITED): logged at debug level only */
  readonly quiet: boolean;
  constructor(code: string, message: string, options?: { cause?: unknown; status?: status; quiet?: boolean }) {
    super(message, options);
    this.name = "DaemonError";
    this.code = code;
    this.status = options?.status ?? status.INTERNAL;
    this.quiet = options?.quiet ?? false;
  }
}

const PAIRING_STATUS: Record<PairingErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  UNSUPPORTED_VERSION: status.FAILED_PRECONDITION,
  CODE_NOT_FOUND: status.NOT_FOUND,
  CODE_EXPIRED: status.FAILED_PRECONDITION,
  CODE_USED: status.FAILED_PRECONDITION,
  CODE_BURNED: status.FAILED_PRECONDITION,
  TOO_MANY_CODES: status.RESOURCE_EXHAUSTED,
  TOO_MANY_SESSIONS: status.RESOURCE_EXHAUSTED,
  SESSION_NOT_FOUND: status.NOT_FOUND,
  SESSION_EXPIRED: status.FAILED_PRECONDITION,
  WRONG_CODE: status.UNAUTHENTICATED,
  BAD_SIGNATURE: status.UNAUTHENTICATED,
  STALE_TIMESTAMP: status.UNAUTHENTICATED,
  REPLAYED: status.UNAUTHENTICATED,
  REQUEST_NOT_FOUND: status.NOT_FOUND,
  REQUEST_NOT_PENDING: status.FAILED_PRECONDITION,
  VERIFICATION_MISMATCH: status.FAILED_PRECONDITION,
  AMBIGUOUS_VERIFICATION_CODE: status.FAILED_PRECONDITION,
  DEVICE_NOT_FOUND: status.NOT_FOUND,
  DEVICE_REVOKED: status.PERMISSION_DENIED,
  NOT_REVOKED: status.FAILED_PRECONDITION,
};

const JOB_STATUS: Record<JobErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  DEVICE_NOT_FOUND: status.NOT_FOUND,
  DEVICE_REVOKED: status.FAILED_PRECONDITION,
  UNKNOWN_CAPABILITY: status.FAILED_PRECONDITION,
  INPUT_TOO_LARGE: status.INVALID_ARGUMENT,
  QUEUE_FULL: status.RESOURCE_EXHAUSTED,
  JOB_NOT_FOUND: status.NOT_FOUND,
  JOB_FINISHED: status.FAILED_PRECONDITION,
  FANOUT_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  NO_DEVICES: status.FAILED_PRECONDITION,
  FANOUT_NOT_FOUND: status.NOT_FOUND,
};

/**
 * What every call is answered once a store write has failed (docs/operations.md, "When the
 * store cannot be written"): the daemon no longer trusts what it holds in memory.
 */
export const STORE_FAILED = {
  code: status.UNAVAILABLE,
  details: "STORE_FAILED: the store cannot be written: disk full? The daemon refuses every call until it is restarted",
} as const;

/** A call that needed a record whose checksum fails. */
const STORE_DAMAGED_READ = {
  code: status.DATA_LOSS,
  details: "STORE_DAMAGED: a record this call needs is damaged (it fails its checksum); stop the daemon and run `tether store check`",
} as const;

/** The StoreError in an error's cause chain (a manager may wrap the store's error in its own). */
function storeErrorIn(err: unknown): StoreError | undefined {
  for (let e = err, i = 0; e instanceof Error && i < 5; e = e.cause, i++) if (e instanceof StoreError) return e;
  return undefined;
}

/** A PostgreSQL store's UNAVAILABLE (by name and code: the daemon loads @tether/store-pg only when it uses it). */
function databaseErrorIn(err: unknown): Error | undefined {
  for (let e = err, i = 0; e instanceof Error && i < 5; e = e.cause, i++) {
    if (e.name === "PgStoreError" && (e as Error & { code?: string }).code === "UNAVAILABLE") return e;
  }
  return undefined;
}

/**
 * The daemon refuses to start on a damaged store (exit 14 from `tether daemon`): the message
 * names every problem and the way out.
 */
export function storeDamaged(dataDir: string, problems: readonly Pick<StoreProblem, "message">[], cause?: unknown): DaemonError {
  const list = problems.map((p) => `  - ${p.message}`).join("\n");
  return new DaemonError(
    "STORE_DAMAGED",
    `the store in ${dataDir}/store is damaged, so the daemon will not start on it:\n${list}\n` +
      `See every problem with \`tether store check --data-dir ${dataDir}\`, then \`tether store repair --data-dir ${dataDir}\` ` +
      "to see what a repair would drop or reset, and add --yes to do it.",
    { cause },
  );
}

/** A failure while starting, in the daemon's terms: a damaged store becomes STORE_DAMAGED. */
export function startFailure(dataDir: string, err: unknown): unknown {
  const se = storeErrorIn(err);
  if (se?.code === "DAMAGED") return storeDamaged(dataDir, se.problems, err);
  if (se?.code === "CORRUPT") return storeDamaged(dataDir, [{ message: se.message }], err);
  if (se?.code === "LOCKED") return new DaemonError("DATA_DIR_IN_USE", `data directory is in use by another daemon (${dataDir})`, { cause: err });
  return err;
}

/**
 * Turn any error into the status a client sees, logging the cause of unexpected ones. `peer`
 * is where the call came from (services/rpc.ts peerOf: an address without its port, or
 * "admin-socket"); every line written here carries it.
 */
export function toServiceError(err: unknown, log: Logger, method: string, peer: string): Partial<ServiceError> {
  const se = storeErrorIn(err);
  if (se?.code === "WRITE_FAILED") {
    log.info("rpc refused", { method, peer, code: "STORE_FAILED", message: se.message });
    return { ...STORE_FAILED };
  }
  if (se?.code === "CORRUPT") {
    log.error("rpc failed: damaged record", { method, peer, error: describe(err) });
    return { ...STORE_DAMAGED_READ };
  }
  if (se?.code === "CLOSED") return { code: status.UNAVAILABLE, details: "UNAVAILABLE: the daemon is stopping" };
  const db = databaseErrorIn(err);
  if (db) {
    // A read the database could not answer: nothing was changed, and trying again later may work.
    log.warn("rpc refused: the database is unavailable", { method, peer, error: describe(err) });
    return { code: status.UNAVAILABLE, details: "STORE_UNAVAILABLE: the database does not answer; nothing was changed, try again" };
  }
  const refused = (e: Error & { code: string }, to: status, sent = e.code, quiet = false): Partial<ServiceError> => {
    const fields = { method, peer, code: e.code, message: clip(e.message, REFUSAL_MESSAGE_MAX_CHARS) };
    if (quiet) log.debug("rpc refused", fields);
    else log.info("rpc refused", fields);
    return { code: to, details: `${sent}: ${fields.message}` };
  };
  if (err instanceof PairingError) return refused(err, PAIRING_STATUS[err.code]);
  if (err instanceof JobError) return refused(err, JOB_STATUS[err.code]);
  if (err instanceof DaemonError && err.status !== status.INTERNAL) return refused(err, err.status, err.code, err.quiet);
  if (err instanceof CryptoError) return refused(err, status.INVALID_ARGUMENT, "INVALID_ARGUMENT");
  if (err instanceof CaError && err.code === "BAD_PUBLIC_KEY") return refused(err, status.INVALID_ARGUMENT, "INVALID_ARGUMENT");
  log.error("rpc failed", { method, peer, error: describe(err) });
  return { code: status.INTERNAL, details: "internal error" };
}

/** A loggable description of an error and its causes (messages and codes, no stack noise). */
export function describe(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; e && i < 5; i++) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- codes are strings or numbers (Node, LevelDB, gRPC); anything else prints as its type
      parts.push(`${e.name}${code ? `[${String(code)}]` : ""}: ${e.message}`);
      e = e.cause;
    } else {
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown non-Error is not ours to dump into the log: a string prints, an object only as "[object Object]"
      parts.push(String(e));
      break;
    }
  }
  return parts.join(" <- ");
}
