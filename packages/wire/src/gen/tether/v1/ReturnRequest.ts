// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto

import type { Long } from '@grpc/proto-loader';

export interface ReturnRequest {
  /**
   * the device's id (dev_ + 26 base32 characters)
   */
  'deviceId'?: (string);
  /**
   * SubjectPublicKeyInfo DER of the new ECDSA P-256 TLS key (91 bytes)
   */
  'tlsPublicKey'?: (Buffer | Uint8Array | string);
  /**
   * ms since epoch, within 10 minutes of the daemon's clock, and later than any return of this device before
   */
  'timestamp'?: (number | string | Long);
  /**
   * Ed25519 by the identity key over transcript("tether/return/v1", [device_id, tls_public_key, u64be(timestamp)])
   */
  'signature'?: (Buffer | Uint8Array | string);
  /**
   * ECDSA P-256 / SHA-256, DER, by the new TLS key over the key-proof message with rpc "Pairing.Return"
   */
  'keyProof'?: (Buffer | Uint8Array | string);
}

export interface ReturnRequest__Output {
  /**
   * the device's id (dev_ + 26 base32 characters)
   */
  'deviceId': (string);
  /**
   * SubjectPublicKeyInfo DER of the new ECDSA P-256 TLS key (91 bytes)
   */
  'tlsPublicKey': (Buffer);
  /**
   * ms since epoch, within 10 minutes of the daemon's clock, and later than any return of this device before
   */
  'timestamp': (number);
  /**
   * Ed25519 by the identity key over transcript("tether/return/v1", [device_id, tls_public_key, u64be(timestamp)])
   */
  'signature': (Buffer);
  /**
   * ECDSA P-256 / SHA-256, DER, by the new TLS key over the key-proof message with rpc "Pairing.Return"
   */
  'keyProof': (Buffer);
}
