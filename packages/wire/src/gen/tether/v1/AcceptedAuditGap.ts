// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface AcceptedAuditGap {
  /**
   * the first entry after the break
   */
  'at'?: (number | string | Long);
  'reason'?: (string);
  /**
   * the store.repaired entry that accepted it
   */
  'acceptedBy'?: (number | string | Long);
}

export interface AcceptedAuditGap__Output {
  /**
   * the first entry after the break
   */
  'at': (number);
  'reason': (string);
  /**
   * the store.repaired entry that accepted it
   */
  'acceptedBy': (number);
}
