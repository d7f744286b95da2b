// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface Crl {
  /**
   * DER X.509 v2 CRL signed by the CA
   */
  'crl'?: (Buffer | Uint8Array | string);
  'thisUpdate'?: (number | string | Long);
  'nextUpdate'?: (number | string | Long);
}

export interface Crl__Output {
  /**
   * DER X.509 v2 CRL signed by the CA
   */
  'crl': (Buffer);
  'thisUpdate': (number);
  'nextUpdate': (number);
}
