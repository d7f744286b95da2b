// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto

import type { NodeInfo as _tether_v1_NodeInfo, NodeInfo__Output as _tether_v1_NodeInfo__Output } from '../../tether/v1/NodeInfo.js';

export interface ListNodesResponse {
  'nodes'?: (_tether_v1_NodeInfo)[];
}

export interface ListNodesResponse__Output {
  'nodes': (_tether_v1_NodeInfo__Output)[];
}
