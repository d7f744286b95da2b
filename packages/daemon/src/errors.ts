/**
 * The one place where errors become gRPC statuses. The cause is logged in full; the client
 * gets the stable message of a known error, or "internal error".
 */
import { status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { CaError } from "@tether/ca";
import { CryptoError } from "@tether/crypto";
import { JobError } from "@tether/jobs";
import type { JobErrorCode } from "@tether/jobs";
import { PairingError } from "@tether/pairing";
import type { PairingErrorCode } from "@tether/pairing";
import type { Logger } from "./log.js";

/** The daemon's own error class (startup and admin-side failures). */
export class DaemonError extends Error {
  readonly code: string;
  /** the gRPC status when this error is sent to a client */
  readonly status: status;
  constructor(code: string, message: string, options?: { cause?: unknown; status?: status }) {
    super(message, options);
    this.name = "DaemonError";
    this.code = code;
    this.status = options?.status ?? status.INTERNAL;
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
  if (err instanceof PairingError) {
    log.info("rpc refused", { method, code: err.code, message: err.message });
    return { code: PAIRING_STATUS[err.code], details: `${err.code}: ${err.message}` };
  }
  if (err instanceof JobError) {
    log.info("rpc refused", { method, code: err.code, message: err.message });
    return { code: JOB_STATUS[err.code], details: `${err.code}: ${err.message}` };
  }
  if (err instanceof DaemonError && err.status !== status.INTERNAL) {
    log.info("rpc refused", { method, code: err.code, message: err.message });
    return { code: err.status, details: `${err.code}: ${err.message}` };
  }
  if (err instanceof CryptoError) {
    log.info("rpc refused", { method, code: err.code, message: err.message });
    return { code: status.INVALID_ARGUMENT, details: `INVALID_ARGUMENT: ${err.message}` };
  }
  if (err instanceof CaError && err.code === "BAD_PUBLIC_KEY") {
    log.info("rpc refused", { method, code: err.code, message: err.message });
    return { code: status.INVALID_ARGUMENT, details: `INVALID_ARGUMENT: ${err.message}` };
  }
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
