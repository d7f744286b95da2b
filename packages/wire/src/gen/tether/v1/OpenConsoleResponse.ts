// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface OpenConsoleResponse {
  /**
   * http://127.0.0.1:PORT/login?token=... (https:// off loopback)
   */
  'url'?: (string);
  /**
   * ms since epoch: the link works once, until then
   */
  'expiresAt'?: (number | string | Long);
}

export interface OpenConsoleResponse__Output {
  /**
   * http://127.0.0.1:PORT/login?token=... (https:// off loopback)
   */
  'url': (string);
  /**
   * ms since epoch: the link works once, until then
   */
  'expiresAt': (number);
}
