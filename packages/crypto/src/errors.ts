/** The one error class of @tether/crypto: a stable string code plus a message safe to show. */
export class CryptoError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CryptoError";
    this.code = code;
  }
}
