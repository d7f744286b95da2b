/** The one error class of @tether/store. Codes: LOCKED, OPEN_FAILED, CORRUPT, NO_TABLE, NOT_AUDITED, WRITE_FAILED. */
export class StoreError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
    this.code = code;
  }
}
