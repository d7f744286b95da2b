// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { JobScope as _tether_v1_JobScope, JobScope__Output as _tether_v1_JobScope__Output } from '../../tether/v1/JobScope.js';
import type { Long } from '@grpc/proto-loader';

export interface Device {
  'id'?: (string);
  'name'?: (string);
  'role'?: (string);
  /**
   * hex
   */
  'identityKey'?: (string);
  'keyFingerprint'?: (string);
  'certificateFingerprint'?: (string);
  'certificateSerial'?: (string);
  'certificateNotAfter'?: (number | string | Long);
  'pairedAt'?: (number | string | Long);
  'requestId'?: (string);
  'certificatePem'?: (string);
  /**
   * 0 = not revoked
   */
  'revokedAt'?: (number | string | Long);
  'revokeReason'?: (string);
  'online'?: (boolean);
  'lastSeen'?: (number | string | Long);
  'capabilities'?: (string)[];
  'platform'?: (string);
  'version'?: (string);
  'inFlight'?: (number);
  'labels'?: ({[key: string]: string});
  /**
   * kind "own" unless an admin granted more
   */
  'jobScope'?: (_tether_v1_JobScope | null);
  /**
   * RotateDevice was asked and the device has not renewed since
   */
  'rotationPending'?: (boolean);
  /**
   * when it was first asked; 0 = none pending (or unknown)
   */
  'rotationRequestedAt'?: (number | string | Long);
  /**
   * online through a replica: its id (docs/scaling.md); empty when connected to the active daemon itself, or offline
   */
  'connectedVia'?: (string);
  'returnNeedsApproval'?: (boolean);
  /**
   * RevokeDevice only: the CRL that lists it is signed and pushed after this answer (without wait_crl)   // its returns after expiry wait for an admin even within --return-grace (SetReturnPolicy)
   */
  'crlPending'?: (boolean);
}

export interface Device__Output {
  'id': (string);
  'name': (string);
  'role': (string);
  /**
   * hex
   */
  'identityKey': (string);
  'keyFingerprint': (string);
  'certificateFingerprint': (string);
  'certificateSerial': (string);
  'certificateNotAfter': (number);
  'pairedAt': (number);
  'requestId': (string);
  'certificatePem': (string);
  /**
   * 0 = not revoked
   */
  'revokedAt': (number);
  'revokeReason': (string);
  'online': (boolean);
  'lastSeen': (number);
  'capabilities': (string)[];
  'platform': (string);
  'version': (string);
  'inFlight': (number);
  'labels': ({[key: string]: string});
  /**
   * kind "own" unless an admin granted more
   */
  'jobScope': (_tether_v1_JobScope__Output | null);
  /**
   * RotateDevice was asked and the device has not renewed since
   */
  'rotationPending': (boolean);
  /**
   * when it was first asked; 0 = none pending (or unknown)
   */
  'rotationRequestedAt': (number);
  /**
   * online through a replica: its id (docs/scaling.md); empty when connected to the active daemon itself, or offline
   */
  'connectedVia': (string);
  'returnNeedsApproval': (boolean);
  /**
   * RevokeDevice only: the CRL that lists it is signed and pushed after this answer (without wait_crl)   // its returns after expiry wait for an admin even within --return-grace (SetReturnPolicy)
   */
  'crlPending': (boolean);
}
