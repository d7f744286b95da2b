// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface RotateDaemonCertificatesResponse {
  /**
   * hex SHA-256 of the new server certificate (DER)
   */
  'serverFingerprint'?: (string);
  'serverNotAfter'?: (number | string | Long);
  'signerFingerprint'?: (string);
  'signerNotAfter'?: (number | string | Long);
}

export interface RotateDaemonCertificatesResponse__Output {
  /**
   * hex SHA-256 of the new server certificate (DER)
   */
  'serverFingerprint': (string);
  'serverNotAfter': (number);
  'signerFingerprint': (string);
  'signerNotAfter': (number);
}
