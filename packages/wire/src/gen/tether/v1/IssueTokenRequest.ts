// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto


export interface IssueTokenRequest {
  /**
   * 1..128 characters: who the token is for
   */
  'audience'?: (string);
  /**
   * 0 = 300; at most 900
   */
  'ttlSeconds'?: (number);
}

export interface IssueTokenRequest__Output {
  /**
   * 1..128 characters: who the token is for
   */
  'audience': (string);
  /**
   * 0 = 300; at most 900
   */
  'ttlSeconds': (number);
}
