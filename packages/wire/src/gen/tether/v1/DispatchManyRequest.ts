// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto


export interface DispatchManyRequest {
  'capability'?: (string);
  /**
   * every one must be on the device; none: every device
   */
  'labels'?: ({[key: string]: string});
  /**
   * only devices connected now (otherwise an offline one gets its job when it returns)
   */
  'onlineOnly'?: (boolean);
  /**
   * UTF-8 JSON; empty means null
   */
  'input'?: (Buffer | Uint8Array | string);
  /**
   * each job's, as in DispatchRequest
   */
  'timeoutMs'?: (number);
  /**
   * optional: the same key returns the same fan-out
   */
  'idempotencyKey'?: (string);
}

export interface DispatchManyRequest__Output {
  'capability': (string);
  /**
   * every one must be on the device; none: every device
   */
  'labels': ({[key: string]: string});
  /**
   * only devices connected now (otherwise an offline one gets its job when it returns)
   */
  'onlineOnly': (boolean);
  /**
   * UTF-8 JSON; empty means null
   */
  'input': (Buffer);
  /**
   * each job's, as in DispatchRequest
   */
  'timeoutMs': (number);
  /**
   * optional: the same key returns the same fan-out
   */
  'idempotencyKey': (string);
}
