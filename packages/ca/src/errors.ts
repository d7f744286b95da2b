/**
 * The single error class of `@tether/ca`, with the table of its stable codes.
 */

/**
 * Stable error codes raised by `@tether/ca`. Callers branch on these, never on messages.
 *
 * | code                 | meaning                                                              |
 * |----------------------|----------------------------------------------------------------------|
 * | `BAD_INPUT`          | an argument failed a labelled check (type, length, range, format)    |
 * | `BAD_PEM`            | text is not a single well-formed PEM block (or has the wrong label)  |
 * | `BAD_PUBLIC_KEY`     | bytes are not a DER SubjectPublicKeyInfo for an EC P-256 key         |
 * | `BAD_PRIVATE_KEY`    | bytes are not a DER PKCS#8 EC P-256 private key                      |
 * | `KEY_MISMATCH`       | the CA private key does not belong to the CA certificate             |
 * | `BAD_CERTIFICATE`    | bytes are not a parseable X.509 certificate, or it is malformed      |
 * | `NOT_A_CA`           | the certificate is not a usable CA (basicConstraints / keyUsage)     |
 * | `CA_NOT_VALID`       | the CA certificate is outside its validity window at `now`           |
 * | `CHAIN_INVALID`      | the leaf was not issued by the given CA, or is itself a CA           |
 * | `CERT_EXPIRED`       | the leaf's notAfter is before `now`                                  |
 * | `CERT_NOT_YET_VALID` | the leaf's notBefore is after `now`                                  |
 * | `BAD_CRL`            | a CRL does not parse, or is not issued and signed by the CA          |
 */
export const CaErrorCode = {
  BadInput: "BAD_INPUT",
  BadPem: "BAD_PEM",
  BadPublicKey: "BAD_PUBLIC_KEY",
  BadPrivateKey: "BAD_PRIVATE_KEY",
  KeyMismatch: "KEY_MISMATCH",
  BadCertificate: "BAD_CERTIFICATE",
  NotACa: "NOT_A_CA",
  CaNotValid: "CA_NOT_VALID",
  ChainInvalid: "CHAIN_INVALID",
  CertExpired: "CERT_EXPIRED",
  CertNotYetValid: "CERT_NOT_YET_VALID",
  BadCrl: "BAD_CRL",
} as const;

/** One of the {@link CaErrorCode} values. */
export type CaErrorCode = (typeof CaErrorCode)[keyof typeof CaErrorCode];

/** The only error type thrown on purpose by `@tether/ca`. */
export class CaError extends Error {
  /** Stable machine-readable code; see {@link CaErrorCode}. */
  readonly code: CaErrorCode;

  constructor(code: CaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CaError";
    this.code = code;
  }
}
