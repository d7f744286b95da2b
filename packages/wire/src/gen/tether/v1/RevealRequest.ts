// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto


export interface RevealRequest {
  'sessionId'?: (string);
  /**
   * 32 bytes: node's CPace share, canonical X25519 u-coordinate
   */
  'ya'?: (Buffer | Uint8Array | string);
}

export interface RevealRequest__Output {
  'sessionId': (string);
  /**
   * 32 bytes: node's CPace share, canonical X25519 u-coordinate
   */
  'ya': (Buffer);
}
