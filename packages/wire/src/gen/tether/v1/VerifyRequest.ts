// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto


export interface VerifyRequest {
  /**
   * DER; or
   */
  'certificate'?: (Buffer | Uint8Array | string);
  /**
   * a token from IssueToken, checked for `audience`
   */
  'token'?: (string);
  'audience'?: (string);
  /**
   * optional: also answer whether the subject may talk to this device
   */
  'peerDeviceId'?: (string);
}

export interface VerifyRequest__Output {
  /**
   * DER; or
   */
  'certificate': (Buffer);
  /**
   * a token from IssueToken, checked for `audience`
   */
  'token': (string);
  'audience': (string);
  /**
   * optional: also answer whether the subject may talk to this device
   */
  'peerDeviceId': (string);
}
