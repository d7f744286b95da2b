/** The one error class of @tether/jobs; `message` is safe to send to the caller. */
export class JobError extends Error {
  readonly code: JobErrorCode;
  constructor(code: JobErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "JobError";
    this.code = code;
  }
}

export type JobErrorCode =
  | "INVALID_ARGUMENT"
  | "DEVICE_NOT_FOUND"
  | "DEVICE_REVOKED"
  | "UNKNOWN_CAPABILITY"
  | "INPUT_TOO_LARGE"
  | "QUEUE_FULL"
  | "JOB_NOT_FOUND"
  | "JOB_FINISHED"
  | "FANOUT_TOO_LARGE"
  | "NO_DEVICES"
  | "FANOUT_NOT_FOUND";
