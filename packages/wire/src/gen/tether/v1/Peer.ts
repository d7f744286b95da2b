// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/peer.proto

import type { MethodDefinition } from '@grpc/proto-loader'
import type { PeerRequest as _tether_v1_PeerRequest, PeerRequest__Output as _tether_v1_PeerRequest__Output } from '../../tether/v1/PeerRequest.js';
import type { PeerResponse as _tether_v1_PeerResponse, PeerResponse__Output as _tether_v1_PeerResponse__Output } from '../../tether/v1/PeerResponse.js';

export interface PeerDefinition {
  Call: MethodDefinition<_tether_v1_PeerRequest, _tether_v1_PeerResponse, _tether_v1_PeerRequest__Output, _tether_v1_PeerResponse__Output>
}
