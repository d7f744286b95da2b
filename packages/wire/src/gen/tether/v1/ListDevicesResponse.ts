// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Device as _tether_v1_Device, Device__Output as _tether_v1_Device__Output } from '../../tether/v1/Device.js';

export interface ListDevicesResponse {
  'devices'?: (_tether_v1_Device)[];
}

export interface ListDevicesResponse__Output {
  'devices': (_tether_v1_Device__Output)[];
}
