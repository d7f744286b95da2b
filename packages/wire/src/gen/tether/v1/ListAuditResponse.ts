// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { AuditEntry as _tether_v1_AuditEntry, AuditEntry__Output as _tether_v1_AuditEntry__Output } from '../../tether/v1/AuditEntry.js';
import type { Long } from '@grpc/proto-loader';

export interface ListAuditResponse {
  'entries'?: (_tether_v1_AuditEntry)[];
  /**
   * 0: no older entries; else ask again with before = next_before
   */
  'nextBefore'?: (number | string | Long);
}

export interface ListAuditResponse__Output {
  'entries': (_tether_v1_AuditEntry__Output)[];
  /**
   * 0: no older entries; else ask again with before = next_before
   */
  'nextBefore': (number);
}
