// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface PreauthorizeRequest {
  /**
   * hex, 32 bytes (Ed25519 public key; `tether node identity` prints it)
   */
  'identityKey'?: (string);
  'name'?: (string);
  /**
   * "" = node
   */
  'role'?: (string);
  /**
   * ms since epoch; 0 = one year
   */
  'expiresAt'?: (number | string | Long);
}

export interface PreauthorizeRequest__Output {
  /**
   * hex, 32 bytes (Ed25519 public key; `tether node identity` prints it)
   */
  'identityKey': (string);
  'name': (string);
  /**
   * "" = node
   */
  'role': (string);
  /**
   * ms since epoch; 0 = one year
   */
  'expiresAt': (number);
}
