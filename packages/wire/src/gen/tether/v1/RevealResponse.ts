// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto


export interface RevealResponse {
  /**
   * 64 bytes: HMAC-SHA512 (docs/protocol.md)
   */
  'daemonConfirmation'?: (Buffer | Uint8Array | string);
  /**
   * ECDSA P-256 / SHA-256, DER, by the signer key
   */
  'daemonSignature'?: (Buffer | Uint8Array | string);
}

export interface RevealResponse__Output {
  /**
   * 64 bytes: HMAC-SHA512 (docs/protocol.md)
   */
  'daemonConfirmation': (Buffer);
  /**
   * ECDSA P-256 / SHA-256, DER, by the signer key
   */
  'daemonSignature': (Buffer);
}
