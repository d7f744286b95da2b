// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto


/**
 * A fan-out's job, light: 10,000 of them fit in one answer.
 */
export interface FanoutJob {
  'id'?: (string);
  'deviceId'?: (string);
  'state'?: (string);
  /**
   * its first 256 characters, when it failed
   */
  'error'?: (string);
  'attempts'?: (number);
}

/**
 * A fan-out's job, light: 10,000 of them fit in one answer.
 */
export interface FanoutJob__Output {
  'id': (string);
  'deviceId': (string);
  'state': (string);
  /**
   * its first 256 characters, when it failed
   */
  'error': (string);
  'attempts': (number);
}
