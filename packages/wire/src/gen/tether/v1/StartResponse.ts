// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto

import type { Long } from '@grpc/proto-loader';

export interface StartResponse {
  /**
   * opaque, names this handshake for Reveal and Finish (echo it unchanged)
   */
  'sessionId'?: (string);
  /**
   * 32 bytes: daemon's CPace share
   */
  'yb'?: (Buffer | Uint8Array | string);
  /**
   * DER
   */
  'caCertificate'?: (Buffer | Uint8Array | string);
  /**
   * DER, issued by the CA, keyUsage digitalSignature
   */
  'signerCertificate'?: (Buffer | Uint8Array | string);
  /**
   * ms since epoch: Reveal and Finish must arrive before this
   */
  'sessionExpiresAt'?: (number | string | Long);
}

export interface StartResponse__Output {
  /**
   * opaque, names this handshake for Reveal and Finish (echo it unchanged)
   */
  'sessionId': (string);
  /**
   * 32 bytes: daemon's CPace share
   */
  'yb': (Buffer);
  /**
   * DER
   */
  'caCertificate': (Buffer);
  /**
   * DER, issued by the CA, keyUsage digitalSignature
   */
  'signerCertificate': (Buffer);
  /**
   * ms since epoch: Reveal and Finish must arrive before this
   */
  'sessionExpiresAt': (number);
}
