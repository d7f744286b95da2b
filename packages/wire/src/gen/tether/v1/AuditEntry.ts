// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface AuditEntry {
  'seq'?: (number | string | Long);
  /**
   * ms since epoch
   */
  'time'?: (number | string | Long);
  /**
   * e.g. "code.minted", "device.revoked"
   */
  'type'?: (string);
  /**
   * "admin", a device id, or "anonymous"
   */
  'actor'?: (string);
  /**
   * the code, request, device or job it is about
   */
  'subject'?: (string);
  /**
   * JSON object
   */
  'details'?: (string);
  /**
   * hex SHA-256 of the previous entry
   */
  'prev'?: (string);
  /**
   * hex SHA-256 of this entry
   */
  'hash'?: (string);
}

export interface AuditEntry__Output {
  'seq': (number);
  /**
   * ms since epoch
   */
  'time': (number);
  /**
   * e.g. "code.minted", "device.revoked"
   */
  'type': (string);
  /**
   * "admin", a device id, or "anonymous"
   */
  'actor': (string);
  /**
   * the code, request, device or job it is about
   */
  'subject': (string);
  /**
   * JSON object
   */
  'details': (string);
  /**
   * hex SHA-256 of the previous entry
   */
  'prev': (string);
  /**
   * hex SHA-256 of this entry
   */
  'hash': (string);
}
