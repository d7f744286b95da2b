/**
 * The one error class of @tether/pairing. `code` is stable (docs/protocol.md lists them);
 * `message` is safe to send to the peer and never contains a secret.
 */
export class PairingError extends Error {
  readonly code: PairingErrorCode;
  constructor(code: PairingErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PairingError";
    this.code = code;
  }
}

export type PairingErrorCode =
  | "INVALID_ARGUMENT"
  | "UNSUPPORTED_VERSION"
  | "CODE_NOT_FOUND"
  | "CODE_EXPIRED"
  | "CODE_USED"
  | "CODE_BURNED"
  | "TOO_MANY_CODES"
  | "TOO_MANY_SESSIONS"
  | "SESSION_NOT_FOUND"
  | "SESSION_EXPIRED"
  | "WRONG_CODE"
  | "BAD_SIGNATURE"
  | "STALE_TIMESTAMP"
  | "REPLAYED"
  | "REQUEST_NOT_FOUND"
  | "REQUEST_NOT_PENDING"
  | "VERIFICATION_MISMATCH"
  | "AMBIGUOUS_VERIFICATION_CODE"
  | "DEVICE_NOT_FOUND"
  | "DEVICE_REVOKED"
  | "NOT_REVOKED";
