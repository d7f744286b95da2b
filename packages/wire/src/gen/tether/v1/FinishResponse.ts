// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto

import type { Long } from '@grpc/proto-loader';

export interface FinishResponse {
  'requestId'?: (string);
  'deviceId'?: (string);
  /**
   * ms since epoch: the pending request expires then
   */
  'expiresAt'?: (number | string | Long);
}

export interface FinishResponse__Output {
  'requestId': (string);
  'deviceId': (string);
  /**
   * ms since epoch: the pending request expires then
   */
  'expiresAt': (number);
}
