// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto

import type { Register as _tether_v1_Register, Register__Output as _tether_v1_Register__Output } from '../../tether/v1/Register.js';
import type { JobUpdate as _tether_v1_JobUpdate, JobUpdate__Output as _tether_v1_JobUpdate__Output } from '../../tether/v1/JobUpdate.js';
import type { JobResult as _tether_v1_JobResult, JobResult__Output as _tether_v1_JobResult__Output } from '../../tether/v1/JobResult.js';
import type { Ping as _tether_v1_Ping, Ping__Output as _tether_v1_Ping__Output } from '../../tether/v1/Ping.js';
import type { Drain as _tether_v1_Drain, Drain__Output as _tether_v1_Drain__Output } from '../../tether/v1/Drain.js';

export interface NodeMessage {
  'register'?: (_tether_v1_Register | null);
  'update'?: (_tether_v1_JobUpdate | null);
  'result'?: (_tether_v1_JobResult | null);
  'ping'?: (_tether_v1_Ping | null);
  'drain'?: (_tether_v1_Drain | null);
  'msg'?: "register"|"update"|"result"|"ping"|"drain";
}

export interface NodeMessage__Output {
  'register'?: (_tether_v1_Register__Output | null);
  'update'?: (_tether_v1_JobUpdate__Output | null);
  'result'?: (_tether_v1_JobResult__Output | null);
  'ping'?: (_tether_v1_Ping__Output | null);
  'drain'?: (_tether_v1_Drain__Output | null);
  'msg'?: "register"|"update"|"result"|"ping"|"drain";
}
