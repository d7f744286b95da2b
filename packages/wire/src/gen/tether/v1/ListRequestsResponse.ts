// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { PairRequest as _tether_v1_PairRequest, PairRequest__Output as _tether_v1_PairRequest__Output } from '../../tether/v1/PairRequest.js';

export interface ListRequestsResponse {
  'requests'?: (_tether_v1_PairRequest)[];
}

export interface ListRequestsResponse__Output {
  'requests': (_tether_v1_PairRequest__Output)[];
}
