// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto

import type { Long } from '@grpc/proto-loader';

export interface AwaitRequest {
  'requestId'?: (string);
  /**
   * ms since epoch, within 10 minutes of the daemon's clock
   */
  'timestamp'?: (number | string | Long);
  /**
   * Ed25519 by the identity key over
   */
  'signature'?: (Buffer | Uint8Array | string);
}

export interface AwaitRequest__Output {
  'requestId': (string);
  /**
   * ms since epoch, within 10 minutes of the daemon's clock
   */
  'timestamp': (number);
  /**
   * Ed25519 by the identity key over
   */
  'signature': (Buffer);
}
