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
  REQUEST_NOT_FOUND: status.NOT_FOUND,
  REQUEST_NOT_PENDING: status.FAILED_PRECONDITION,
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
};

/** Turn any error into the status a client sees, logging the cause of unexpected ones. */
export function toServiceError(err: unknown, log: Logger, method: string): Partial<ServiceError> {
  const refused = (e: Error & { code: string }, to: status, sent = e.code, quiet = false): Partial<ServiceError> => {
    const fields = { method, code: e.code, message: clip(e.message, REFUSAL_MESSAGE_MAX_CHARS) };
    if (quiet) log.debug("rpc refused", fields);
    else log.info("rpc refused", fields);
    return { code: to, details: `${sent}: ${fields.message}` };
  };
  if (err instanceof PairingError) return refused(err, PAIRING_STATUS[err.code]);
  if (err instanceof JobError) return refused(err, JOB_STATUS[err.code]);
  if (err instanceof DaemonError && err.status !== status.INTERNAL) return refused(err, err.status, err.code, err.quiet);
  if (err instanceof CryptoError) return refused(err, status.INVALID_ARGUMENT, "INVALID_ARGUMENT");
  if (err instanceof CaError && err.code === "BAD_PUBLIC_KEY") return refused(err, status.INVALID_ARGUMENT, "INVALID_ARGUMENT");
  log.error("rpc failed", { method, error: describe(err) });
  return { code: status.INTERNAL, details: "internal error" };
}

/** A loggable description of an error and its causes (messages and codes, no stack noise). */
export function describe(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; e && i < 5; i++) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      parts.push(`${e.name}${code ? `[${String(code)}]` : ""}: ${e.message}`);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(" <- ");
}
