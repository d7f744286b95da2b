/** @tether/crypto: keys, CPace, transcripts, pairing-code formats. Pure: no I/O, no clock. */
export { CryptoError } from "./errors.js";
export { bytes, concat, constantTimeEqual, fromBase64Url, fromHex, fromUtf8, toBase64Url, toHex, u32be, u64be, utf8, wipe } from "./bytes.js";
export { Secret } from "./secret.js";
export { lexicographicallyLarger, leb128, lvCat, oCat, prependLen, transcriptIr, transcriptOc } from "./lv.js";
export {
  CPACE_DSI,
  calculateGenerator,
  checkShare,
  cpaceIsk,
  cpaceIskIr,
  cpaceShare,
  cpaceSharedSecret,
  cpaceSidOutput,
  decodeUCoordinate,
  elligator2,
  generatorString,
  scalarMultVfy,
} from "./cpace.js";
export { transcript } from "./transcript.js";
export { sha256Hex } from "./hash.js";
export { DEVICE_ID_PREFIX, base32, checkIdentityKey, deviceIdFromIdentityKey, identityFromSeed, identitySign, identityVerify, isDeviceId } from "./identity.js";
export {
  PAIRING_URI_SCHEME,
  PAIRING_URI_VERSION,
  PIN_SECRET_DIGITS,
  PIN_SELECTOR_DIGITS,
  PairMethod,
  QR_SECRET_BYTES,
  QR_SELECTOR_BYTES,
  derivePrs,
  fingerprintBytes,
  formatPairingUri,
  formatPin,
  generatePinSecret,
  isTrivialPinSecret,
  isValidSelector,
  parsePairingUri,
  parsePin,
  randomDigits,
} from "./codes.js";
export type { PairingUri } from "./codes.js";
export {
  COMMITMENT_BYTES,
  CONFIRMATION_BYTES,
  NAME_MAX_BYTES,
  PAIRING_SIGNER_COMMON_NAME,
  PAIR_PROTOCOL,
  KeyProofPurpose,
  PAIR_PROTOCOL_VERSION,
  Role,
  SID_BYTES,
  TLS_PUBLIC_KEY_MAX_BYTES,
  VERIFICATION_CODE_DIGITS,
  awaitSignedMessage,
  checkClaims,
  checkName,
  checkRole,
  confirmationMatches,
  daemonAd,
  daemonComplete,
  daemonShare,
  daemonSignedMessage,
  deriveSessionKeys,
  keyProofMessage,
  nodeAd,
  nodeComplete,
  nodeShare,
  nodeSignedMessage,
  pairingCi,
  parseVerificationCode,
  renewSignedMessage,
  returnSignedMessage,
  returnVerificationCode,
  shareCommitment,
  transcriptHash,
  verificationCodesMatch,
} from "./handshake.js";
export type { HandshakeView, NodeClaims, SessionKeys } from "./handshake.js";
export { SEAL_KEY_BYTES, createSealer } from "./seal.js";
export type { Sealer } from "./seal.js";
export { P256_SPKI_PREFIX, ed25519PublicKey, ed25519Sign, ed25519Verify, p256Verify, x25519Native } from "./native.js";
export { TOKEN_DEFAULT_TTL_MS, TOKEN_LEEWAY_MS, TOKEN_MAX_TTL_MS, jwkOf, signToken, tokenKeyId, verifyToken } from "./jwt.js";
export type { Jwk, Jwks, TokenClaims } from "./jwt.js";
