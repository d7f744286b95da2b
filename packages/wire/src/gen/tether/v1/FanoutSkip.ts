// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto


export interface FanoutSkip {
  'deviceId'?: (string);
  /**
   * e.g. QUEUE_FULL
   */
  'code'?: (string);
  'reason'?: (string);
}

export interface FanoutSkip__Output {
  'deviceId': (string);
  /**
   * e.g. QUEUE_FULL
   */
  'code': (string);
  'reason': (string);
}
