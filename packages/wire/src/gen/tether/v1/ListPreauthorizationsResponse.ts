// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Preauthorization as _tether_v1_Preauthorization, Preauthorization__Output as _tether_v1_Preauthorization__Output } from '../../tether/v1/Preauthorization.js';

export interface ListPreauthorizationsResponse {
  'preauthorizations'?: (_tether_v1_Preauthorization)[];
}

export interface ListPreauthorizationsResponse__Output {
  'preauthorizations': (_tether_v1_Preauthorization__Output)[];
}
