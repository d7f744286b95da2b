// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto

import type { Long } from '@grpc/proto-loader';

export interface Job {
  'id'?: (string);
  'deviceId'?: (string);
  'capability'?: (string);
  /**
   * queued | delivered | running | succeeded | failed | timed_out | cancelled
   */
  'state'?: (string);
  'input'?: (Buffer | Uint8Array | string);
  'output'?: (Buffer | Uint8Array | string);
  'error'?: (string);
  'createdAt'?: (number | string | Long);
  'deadline'?: (number | string | Long);
  'updatedAt'?: (number | string | Long);
  'attempts'?: (number);
  'idempotencyKey'?: (string);
  /**
   * device id of the orchestrator, or "admin"
   */
  'dispatchedBy'?: (string);
  /**
   * the fan-out (DispatchMany) that created it, or ""
   */
  'fanoutId'?: (string);
}

export interface Job__Output {
  'id': (string);
  'deviceId': (string);
  'capability': (string);
  /**
   * queued | delivered | running | succeeded | failed | timed_out | cancelled
   */
  'state': (string);
  'input': (Buffer);
  'output': (Buffer);
  'error': (string);
  'createdAt': (number);
  'deadline': (number);
  'updatedAt': (number);
  'attempts': (number);
  'idempotencyKey': (string);
  /**
   * device id of the orchestrator, or "admin"
   */
  'dispatchedBy': (string);
  /**
   * the fan-out (DispatchMany) that created it, or ""
   */
  'fanoutId': (string);
}
