// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto

import type { Job as _tether_v1_Job, Job__Output as _tether_v1_Job__Output } from '../../tether/v1/Job.js';

export interface ListJobsResponse {
  'jobs'?: (_tether_v1_Job)[];
}

export interface ListJobsResponse__Output {
  'jobs': (_tether_v1_Job__Output)[];
}
