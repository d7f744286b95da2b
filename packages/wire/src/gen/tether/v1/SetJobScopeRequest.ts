// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { JobScope as _tether_v1_JobScope, JobScope__Output as _tether_v1_JobScope__Output } from '../../tether/v1/JobScope.js';

export interface SetJobScopeRequest {
  /**
   * an orchestrator's device id
   */
  'id'?: (string);
  /**
   * unset = kind "own"
   */
  'jobScope'?: (_tether_v1_JobScope | null);
}

export interface SetJobScopeRequest__Output {
  /**
   * an orchestrator's device id
   */
  'id': (string);
  /**
   * unset = kind "own"
   */
  'jobScope': (_tether_v1_JobScope__Output | null);
}
