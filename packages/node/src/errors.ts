/** The one error class of @tether/node, with stable codes the CLI maps to exit codes. */
export class NodeError extends Error {
  readonly code: NodeErrorCode;
  /** gRPC status name when the daemon refused the call */
  readonly status?: string;
  constructor(code: NodeErrorCode, message: string, options?: { cause?: unknown; status?: string }) {
    super(message, options);
    this.name = "NodeError";
    this.code = code;
    if (options?.status) this.status = options.status;
  }
}

export type NodeErrorCode =
  | "BAD_INPUT"
  | "CODE_EXPIRED"
  | "CODE_UNUSABLE"
  | "REVOKED"
  | "WRONG_CODE"
  | "CA_PIN_MISMATCH"
  | "BAD_DAEMON_SIGNATURE"
  | "BAD_CERTIFICATE"
  | "REJECTED"
  | "EXPIRED"
  | "DAEMON_REFUSED"
  | "UNREACHABLE"
  | "STATE_DIR"
  | "STALE_CRL"
  | "BUSY";
