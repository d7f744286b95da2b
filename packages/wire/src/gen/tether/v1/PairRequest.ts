// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface PairRequest {
  'id'?: (string);
  'state'?: (string);
  'deviceId'?: (string);
  'name'?: (string);
  'requestedRole'?: (string);
  /**
   * granted role (approved only)
   */
  'role'?: (string);
  /**
   * SHA-256 hex of the identity key
   */
  'keyFingerprint'?: (string);
  'verificationCode'?: (string);
  'method'?: (string);
  'createdAt'?: (number | string | Long);
  'expiresAt'?: (number | string | Long);
  'decidedAt'?: (number | string | Long);
  'certificateFingerprint'?: (string);
  'reason'?: (string);
  /**
   * where the node's handshake came from, as the daemon saw it ("" = not known)
   */
  'peerAddress'?: (string);
}

export interface PairRequest__Output {
  'id': (string);
  'state': (string);
  'deviceId': (string);
  'name': (string);
  'requestedRole': (string);
  /**
   * granted role (approved only)
   */
  'role': (string);
  /**
   * SHA-256 hex of the identity key
   */
  'keyFingerprint': (string);
  'verificationCode': (string);
  'method': (string);
  'createdAt': (number);
  'expiresAt': (number);
  'decidedAt': (number);
  'certificateFingerprint': (string);
  'reason': (string);
  /**
   * where the node's handshake came from, as the daemon saw it ("" = not known)
   */
  'peerAddress': (string);
}
