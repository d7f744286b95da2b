// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One page of the log: the newest entries below seq `before` (0: the newest of all), at most
 * `limit` (0 or more than 1000: 1000) and 4 MiB of entries, oldest first, of those the ones
 * from time `since` on. Follow `next_before` for more (docs/operations.md, tether audit).
 */
export interface ListAuditRequest {
  /**
   * ms since epoch; 0 = from the first entry
   */
  'since'?: (number | string | Long);
  'limit'?: (number);
  /**
   * seq; 0 = from the newest
   */
  'before'?: (number | string | Long);
}

/**
 * One page of the log: the newest entries below seq `before` (0: the newest of all), at most
 * `limit` (0 or more than 1000: 1000) and 4 MiB of entries, oldest first, of those the ones
 * from time `since` on. Follow `next_before` for more (docs/operations.md, tether audit).
 */
export interface ListAuditRequest__Output {
  /**
   * ms since epoch; 0 = from the first entry
   */
  'since': (number);
  'limit': (number);
  /**
   * seq; 0 = from the newest
   */
  'before': (number);
}
