// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto

import type { Long } from '@grpc/proto-loader';

export interface ReturnResponse {
  /**
   * "approved": certificate below; "pending": an admin decides (Await request_id)
   */
  'state'?: (string);
  /**
   * DER, for tls_public_key ("approved" only)
   */
  'certificate'?: (Buffer | Uint8Array | string);
  /**
   * DER
   */
  'caCertificate'?: (Buffer | Uint8Array | string);
  /**
   * the certificate's end, ms since epoch ("approved" only)
   */
  'notAfter'?: (number | string | Long);
  /**
   * the pending return request ("pending" only)
   */
  'requestId'?: (string);
  /**
   * NNN-NNN, for the device to show ("pending" only)
   */
  'verificationCode'?: (string);
  /**
   * when the pending request expires ("pending" only)
   */
  'expiresAt'?: (number | string | Long);
}

export interface ReturnResponse__Output {
  /**
   * "approved": certificate below; "pending": an admin decides (Await request_id)
   */
  'state': (string);
  /**
   * DER, for tls_public_key ("approved" only)
   */
  'certificate': (Buffer);
  /**
   * DER
   */
  'caCertificate': (Buffer);
  /**
   * the certificate's end, ms since epoch ("approved" only)
   */
  'notAfter': (number);
  /**
   * the pending return request ("pending" only)
   */
  'requestId': (string);
  /**
   * NNN-NNN, for the device to show ("pending" only)
   */
  'verificationCode': (string);
  /**
   * when the pending request expires ("pending" only)
   */
  'expiresAt': (number);
}
