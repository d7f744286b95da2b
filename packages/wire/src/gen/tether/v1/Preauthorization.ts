// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface Preauthorization {
  'deviceId'?: (string);
  'identityKey'?: (string);
  'name'?: (string);
  'role'?: (string);
  'createdAt'?: (number | string | Long);
  'expiresAt'?: (number | string | Long);
  'usedAt'?: (number | string | Long);
  'requestId'?: (string);
}

export interface Preauthorization__Output {
  'deviceId': (string);
  'identityKey': (string);
  'name': (string);
  'role': (string);
  'createdAt': (number);
  'expiresAt': (number);
  'usedAt': (number);
  'requestId': (string);
}
