// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto


export interface FinishRequest {
  'sessionId'?: (string);
  /**
   * 64 bytes
   */
  'nodeConfirmation'?: (Buffer | Uint8Array | string);
  /**
   * 64 bytes: Ed25519 by the identity key
   */
  'nodeSignature'?: (Buffer | Uint8Array | string);
}

export interface FinishRequest__Output {
  'sessionId': (string);
  /**
   * 64 bytes
   */
  'nodeConfirmation': (Buffer);
  /**
   * 64 bytes: Ed25519 by the identity key
   */
  'nodeSignature': (Buffer);
}
