/**
 * Parsing helpers shared by issuing and verification: DER -> X509Certificate with
 * labelled errors, SPKI extraction, and extension lookups.
 */
import { nonEmptyBytes } from "./checks.js";
import { CaError } from "./errors.js";
import { x509 } from "./provider.js";

/**
 * Parse a DER certificate.
 * @throws {CaError} `BAD_CERTIFICATE` if the bytes are empty or not a DER X.509 certificate.
 */
export function parseCertificate(der: unknown, label: string): x509.X509Certificate {
  const bytes = nonEmptyBytes(der, label, "BAD_CERTIFICATE");
  try {
    const cert = new x509.X509Certificate(Uint8Array.from(bytes));
    // Reject trailing bytes: the parsed structure must re-encode to exactly the input.
    if (cert.rawData.byteLength !== bytes.length) throw new Error("trailing data after certificate");
    return cert;
  } catch (cause) {
    throw new CaError("BAD_CERTIFICATE", `"${label}" is not a DER X.509 certificate`, { cause });
  }
}

/**
 * The certificate's SubjectPublicKeyInfo, DER-encoded (what {@link spkiFingerprint} hashes).
 * @throws {CaError} `BAD_CERTIFICATE` if `certDer` is not a DER X.509 certificate.
 */
export function certSpkiDer(certDer: Uint8Array): Uint8Array {
  return new Uint8Array(parseCertificate(certDer, "certDer").publicKey.rawData);
}

/** Milliseconds since epoch of the certificate's notBefore / notAfter. */
export function validityOf(cert: x509.X509Certificate): { notBefore: number; notAfter: number } {
  return { notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime() };
}

/** True if basicConstraints is present with cA=TRUE. */
export function isCa(cert: x509.X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}
