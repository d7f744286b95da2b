// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface RotateDeviceResponse {
  /**
   * told at once on its open Node.Connect stream
   */
  'sentNow'?: (boolean);
  /**
   * when the pending rotation was first asked (ms since epoch)
   */
  'requestedAt'?: (number | string | Long);
}

export interface RotateDeviceResponse__Output {
  /**
   * told at once on its open Node.Connect stream
   */
  'sentNow': (boolean);
  /**
   * when the pending rotation was first asked (ms since epoch)
   */
  'requestedAt': (number);
}
