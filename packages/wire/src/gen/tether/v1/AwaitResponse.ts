// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto

import type { Long } from '@grpc/proto-loader';

export interface AwaitResponse {
  /**
   * "pending" | "approved" | "rejected" | "expired"
   */
  'state'?: (string);
  /**
   * the role granted, on approval
   */
  'role'?: (string);
  /**
   * DER, on approval
   */
  'certificate'?: (Buffer | Uint8Array | string);
  /**
   * DER, on approval
   */
  'caCertificate'?: (Buffer | Uint8Array | string);
  'deviceId'?: (string);
  /**
   * pending: when the request expires
   */
  'expiresAt'?: (number | string | Long);
  /**
   * rejected: the admin's reason, if any
   */
  'reason'?: (string);
}

export interface AwaitResponse__Output {
  /**
   * "pending" | "approved" | "rejected" | "expired"
   */
  'state': (string);
  /**
   * the role granted, on approval
   */
  'role': (string);
  /**
   * DER, on approval
   */
  'certificate': (Buffer);
  /**
   * DER, on approval
   */
  'caCertificate': (Buffer);
  'deviceId': (string);
  /**
   * pending: when the request expires
   */
  'expiresAt': (number);
  /**
   * rejected: the admin's reason, if any
   */
  'reason': (string);
}
