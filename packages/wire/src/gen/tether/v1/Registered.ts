// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface Registered {
  'deviceId'?: (string);
  /**
   * what the daemon will actually keep in flight
   */
  'maxConcurrency'?: (number);
  /**
   * the node SHOULD ping at least this often
   */
  'heartbeatMs'?: (number | string | Long);
  /**
   * the daemon's clock when it sent this (ms since epoch): nodes
   */
  'daemonTime'?: (number | string | Long);
}

export interface Registered__Output {
  'deviceId': (string);
  /**
   * what the daemon will actually keep in flight
   */
  'maxConcurrency': (number);
  /**
   * the node SHOULD ping at least this often
   */
  'heartbeatMs': (number);
  /**
   * the daemon's clock when it sent this (ms since epoch): nodes
   */
  'daemonTime': (number);
}
