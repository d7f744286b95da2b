// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto

import type { MethodDefinition } from '@grpc/proto-loader'
import type { CancelJobRequest as _tether_v1_CancelJobRequest, CancelJobRequest__Output as _tether_v1_CancelJobRequest__Output } from '../../tether/v1/CancelJobRequest.js';
import type { DispatchManyRequest as _tether_v1_DispatchManyRequest, DispatchManyRequest__Output as _tether_v1_DispatchManyRequest__Output } from '../../tether/v1/DispatchManyRequest.js';
import type { DispatchRequest as _tether_v1_DispatchRequest, DispatchRequest__Output as _tether_v1_DispatchRequest__Output } from '../../tether/v1/DispatchRequest.js';
import type { Fanout as _tether_v1_Fanout, Fanout__Output as _tether_v1_Fanout__Output } from '../../tether/v1/Fanout.js';
import type { GetFanoutRequest as _tether_v1_GetFanoutRequest, GetFanoutRequest__Output as _tether_v1_GetFanoutRequest__Output } from '../../tether/v1/GetFanoutRequest.js';
import type { GetJobRequest as _tether_v1_GetJobRequest, GetJobRequest__Output as _tether_v1_GetJobRequest__Output } from '../../tether/v1/GetJobRequest.js';
import type { Job as _tether_v1_Job, Job__Output as _tether_v1_Job__Output } from '../../tether/v1/Job.js';
import type { ListJobsRequest as _tether_v1_ListJobsRequest, ListJobsRequest__Output as _tether_v1_ListJobsRequest__Output } from '../../tether/v1/ListJobsRequest.js';
import type { ListJobsResponse as _tether_v1_ListJobsResponse, ListJobsResponse__Output as _tether_v1_ListJobsResponse__Output } from '../../tether/v1/ListJobsResponse.js';
import type { ListNodesRequest as _tether_v1_ListNodesRequest, ListNodesRequest__Output as _tether_v1_ListNodesRequest__Output } from '../../tether/v1/ListNodesRequest.js';
import type { ListNodesResponse as _tether_v1_ListNodesResponse, ListNodesResponse__Output as _tether_v1_ListNodesResponse__Output } from '../../tether/v1/ListNodesResponse.js';
import type { WatchJobRequest as _tether_v1_WatchJobRequest, WatchJobRequest__Output as _tether_v1_WatchJobRequest__Output } from '../../tether/v1/WatchJobRequest.js';

export interface OrchestratorDefinition {
  CancelJob: MethodDefinition<_tether_v1_CancelJobRequest, _tether_v1_Job, _tether_v1_CancelJobRequest__Output, _tether_v1_Job__Output>
  Dispatch: MethodDefinition<_tether_v1_DispatchRequest, _tether_v1_Job, _tether_v1_DispatchRequest__Output, _tether_v1_Job__Output>
  DispatchMany: MethodDefinition<_tether_v1_DispatchManyRequest, _tether_v1_Fanout, _tether_v1_DispatchManyRequest__Output, _tether_v1_Fanout__Output>
  GetFanout: MethodDefinition<_tether_v1_GetFanoutRequest, _tether_v1_Fanout, _tether_v1_GetFanoutRequest__Output, _tether_v1_Fanout__Output>
  GetJob: MethodDefinition<_tether_v1_GetJobRequest, _tether_v1_Job, _tether_v1_GetJobRequest__Output, _tether_v1_Job__Output>
  ListJobs: MethodDefinition<_tether_v1_ListJobsRequest, _tether_v1_ListJobsResponse, _tether_v1_ListJobsRequest__Output, _tether_v1_ListJobsResponse__Output>
  ListNodes: MethodDefinition<_tether_v1_ListNodesRequest, _tether_v1_ListNodesResponse, _tether_v1_ListNodesRequest__Output, _tether_v1_ListNodesResponse__Output>
  Run: MethodDefinition<_tether_v1_DispatchRequest, _tether_v1_Job, _tether_v1_DispatchRequest__Output, _tether_v1_Job__Output>
  WatchJob: MethodDefinition<_tether_v1_WatchJobRequest, _tether_v1_Job, _tether_v1_WatchJobRequest__Output, _tether_v1_Job__Output>
}
