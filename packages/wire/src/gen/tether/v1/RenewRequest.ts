// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto

import type { Long } from '@grpc/proto-loader';

export interface RenewRequest {
  /**
   * SubjectPublicKeyInfo DER (uncompressed P-256), new or current
   */
  'tlsPublicKey'?: (Buffer | Uint8Array | string);
  /**
   * ms since epoch, within 10 minutes of the daemon's clock
   */
  'timestamp'?: (number | string | Long);
  /**
   * Ed25519 by the identity key over
   */
  'signature'?: (Buffer | Uint8Array | string);
  /**
   * transcript("tether/renew/v1", [device_id, tls_public_key, u64be(timestamp)])
   */
  'keyProof'?: (Buffer | Uint8Array | string);
}

export interface RenewRequest__Output {
  /**
   * SubjectPublicKeyInfo DER (uncompressed P-256), new or current
   */
  'tlsPublicKey': (Buffer);
  /**
   * ms since epoch, within 10 minutes of the daemon's clock
   */
  'timestamp': (number);
  /**
   * Ed25519 by the identity key over
   */
  'signature': (Buffer);
  /**
   * transcript("tether/renew/v1", [device_id, tls_public_key, u64be(timestamp)])
   */
  'keyProof': (Buffer);
}
