/**
 * `@tether/ca`: tether's certificate authority. Root creation, issuing of server, signer
 * and node certificates, verification, fingerprints and PEM helpers. Pure given key,
 * clock and randomness.
 */
export { CaError, CaErrorCode } from "./errors.js";
export type { Clock, RandomBytes } from "./defaults.js";
export {
  CLOCK_SKEW_BACKDATE_MS,
  DEFAULT_CA_LIFETIME_MS,
  DEFAULT_NODE_CERT_LIFETIME_MS,
  DEFAULT_SERVER_CERT_LIFETIME_MS,
  DEVICE_URI_PREFIX,
  REPLICA_CERT_LIFETIME_MS,
  REPLICA_URI_PREFIX,
  SERIAL_BYTES,
  SIGNER_COMMON_NAME,
} from "./defaults.js";
export type { IssuedNodeCert, KeyMaterial } from "./authority.js";
export { CertificateAuthority, createRootCa } from "./authority.js";
export { certSpkiDer } from "./certificate.js";
export type { PemLabel } from "./encoding.js";
export { certFingerprint, derToPem, pemToDer, spkiFingerprint } from "./encoding.js";
export { generateP256KeyPair, requireP256Spki } from "./keys.js";
export type { VerifiedCrl } from "./crl-verify.js";
export { serialKey, verifyCrl } from "./crl-verify.js";
export type { VerifiedCert } from "./verify.js";
export { deviceIdFromSubjectAltName, verifyIssuedBy } from "./verify.js";
