// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface JobAssignment {
  /**
   * stable across redeliveries: dedup on it
   */
  'jobId'?: (string);
  'capability'?: (string);
  /**
   * UTF-8 JSON
   */
  'input'?: (Buffer | Uint8Array | string);
  /**
   * ms since epoch, on the daemon's clock
   */
  'deadline'?: (number | string | Long);
  /**
   * 1 on first delivery
   */
  'attempt'?: (number);
  /**
   * deadline minus the daemon's clock when sent: nodes SHOULD time
   */
  'timeoutMs'?: (number | string | Long);
}

export interface JobAssignment__Output {
  /**
   * stable across redeliveries: dedup on it
   */
  'jobId': (string);
  'capability': (string);
  /**
   * UTF-8 JSON
   */
  'input': (Buffer);
  /**
   * ms since epoch, on the daemon's clock
   */
  'deadline': (number);
  /**
   * 1 on first delivery
   */
  'attempt': (number);
  /**
   * deadline minus the daemon's clock when sent: nodes SHOULD time
   */
  'timeoutMs': (number);
}
