// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto


export interface DispatchRequest {
  'deviceId'?: (string);
  'capability'?: (string);
  /**
   * UTF-8 JSON; empty means null
   */
  'input'?: (Buffer | Uint8Array | string);
  /**
   * 0 = default (60 s); at most 24 h
   */
  'timeoutMs'?: (number);
  /**
   * optional: the same key returns the same job
   */
  'idempotencyKey'?: (string);
}

export interface DispatchRequest__Output {
  'deviceId': (string);
  'capability': (string);
  /**
   * UTF-8 JSON; empty means null
   */
  'input': (Buffer);
  /**
   * 0 = default (60 s); at most 24 h
   */
  'timeoutMs': (number);
  /**
   * optional: the same key returns the same job
   */
  'idempotencyKey': (string);
}
