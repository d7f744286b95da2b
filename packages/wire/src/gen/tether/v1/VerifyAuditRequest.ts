// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto


export interface VerifyAuditRequest {
  /**
   * optional: a head hash (64 hex) printed by an earlier verify and kept outside the data
   * directory; the chain must still contain an entry with it (else not ok, broken_at 0)
   */
  'head'?: (string);
}

export interface VerifyAuditRequest__Output {
  /**
   * optional: a head hash (64 hex) printed by an earlier verify and kept outside the data
   * directory; the chain must still contain an entry with it (else not ok, broken_at 0)
   */
  'head': (string);
}
