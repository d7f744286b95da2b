// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto


/**
 * Revoked devices are never listed.
 */
export interface ListNodesRequest {
  /**
   * "" = any
   */
  'capability'?: (string);
  /**
   * "" = any, "true", "false"
   */
  'online'?: (string);
  /**
   * "" = any; else only this device (none if unknown or revoked)
   */
  'deviceId'?: (string);
}

/**
 * Revoked devices are never listed.
 */
export interface ListNodesRequest__Output {
  /**
   * "" = any
   */
  'capability': (string);
  /**
   * "" = any, "true", "false"
   */
  'online': (string);
  /**
   * "" = any; else only this device (none if unknown or revoked)
   */
  'deviceId': (string);
}
