// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { AcceptedAuditGap as _tether_v1_AcceptedAuditGap, AcceptedAuditGap__Output as _tether_v1_AcceptedAuditGap__Output } from '../../tether/v1/AcceptedAuditGap.js';
import type { Long } from '@grpc/proto-loader';

export interface VerifyAuditResponse {
  'ok'?: (boolean);
  'entries'?: (number | string | Long);
  'head'?: (string);
  /**
   * first bad entry when not ok; 0 when only the kept head is missing
   */
  'brokenAt'?: (number | string | Long);
  'reason'?: (string);
  /**
   * breaks in the chain that `tether store repair` accepted (entries lost from the middle of a
   * damaged log); the chain is whole otherwise. Shown, never hidden.
   */
  'gaps'?: (_tether_v1_AcceptedAuditGap)[];
}

export interface VerifyAuditResponse__Output {
  'ok': (boolean);
  'entries': (number);
  'head': (string);
  /**
   * first bad entry when not ok; 0 when only the kept head is missing
   */
  'brokenAt': (number);
  'reason': (string);
  /**
   * breaks in the chain that `tether store repair` accepted (entries lost from the middle of a
   * damaged log); the chain is whole otherwise. Shown, never hidden.
   */
  'gaps': (_tether_v1_AcceptedAuditGap__Output)[];
}
