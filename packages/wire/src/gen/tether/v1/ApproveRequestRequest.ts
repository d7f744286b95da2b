// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { JobScope as _tether_v1_JobScope, JobScope__Output as _tether_v1_JobScope__Output } from '../../tether/v1/JobScope.js';

export interface ApproveRequestRequest {
  /**
   * "" = the one pending request whose verification code is `code`
   */
  'id'?: (string);
  /**
   * "" = the role the node asked for
   */
  'role'?: (string);
  /**
   * orchestrators only; unset = kind "own". Replaces a grant an
   */
  'jobScope'?: (_tether_v1_JobScope | null);
  /**
   * earlier pairing of the device had
   * The verification code the admin compared with the node's ("NNN-NNN" or 6 digits; "" = not
   * checked). The daemon compares it with the request's in constant time, in the same step as
   * the approval: a different code is VERIFICATION_MISMATCH and nothing is approved. With no
   * `id`: no pending request with this code is REQUEST_NOT_FOUND, more than one is
   * AMBIGUOUS_VERIFICATION_CODE (naming them), and nothing is approved.
   */
  'code'?: (string);
}

export interface ApproveRequestRequest__Output {
  /**
   * "" = the one pending request whose verification code is `code`
   */
  'id': (string);
  /**
   * "" = the role the node asked for
   */
  'role': (string);
  /**
   * orchestrators only; unset = kind "own". Replaces a grant an
   */
  'jobScope': (_tether_v1_JobScope__Output | null);
  /**
   * earlier pairing of the device had
   * The verification code the admin compared with the node's ("NNN-NNN" or 6 digits; "" = not
   * checked). The daemon compares it with the request's in constant time, in the same step as
   * the approval: a different code is VERIFICATION_MISMATCH and nothing is approved. With no
   * `id`: no pending request with this code is REQUEST_NOT_FOUND, more than one is
   * AMBIGUOUS_VERIFICATION_CODE (naming them), and nothing is approved.
   */
  'code': (string);
}
