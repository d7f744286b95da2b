// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface CreateCodeResponse {
  'id'?: (string);
  'method'?: (string);
  /**
   * the PIN or the pairing URI: shown once, never stored
   */
  'code'?: (string);
  /**
   * ms since epoch
   */
  'expiresAt'?: (number | string | Long);
  'selector'?: (string);
  /**
   * the policy as minted (CreateCodeRequest 10-13)
   */
  'role'?: (string);
  'labels'?: ({[key: string]: string});
  'approve'?: (boolean);
  /**
   * 1 for a single-use code
   */
  'uses'?: (number);
}

export interface CreateCodeResponse__Output {
  'id': (string);
  'method': (string);
  /**
   * the PIN or the pairing URI: shown once, never stored
   */
  'code': (string);
  /**
   * ms since epoch
   */
  'expiresAt': (number);
  'selector': (string);
  /**
   * the policy as minted (CreateCodeRequest 10-13)
   */
  'role': (string);
  'labels': ({[key: string]: string});
  'approve': (boolean);
  /**
   * 1 for a single-use code
   */
  'uses': (number);
}
