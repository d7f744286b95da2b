// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto


export interface JobResult {
  'jobId'?: (string);
  'ok'?: (boolean);
  /**
   * UTF-8 JSON when ok
   */
  'output'?: (Buffer | Uint8Array | string);
  /**
   * when not ok: a message (e.g. stderr's tail)
   */
  'error'?: (string);
}

export interface JobResult__Output {
  'jobId': (string);
  'ok': (boolean);
  /**
   * UTF-8 JSON when ok
   */
  'output': (Buffer);
  /**
   * when not ok: a message (e.g. stderr's tail)
   */
  'error': (string);
}
