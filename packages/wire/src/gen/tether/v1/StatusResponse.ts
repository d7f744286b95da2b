// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface StatusResponse {
  'version'?: (string);
  /**
   * host:port actually bound
   */
  'listen'?: (string);
  'advertise'?: (string);
  'caFingerprint'?: (string);
  'dataDir'?: (string);
  'startedAt'?: (number | string | Long);
  /**
   * "ok"; "failed": a store write failed, and the daemon refuses every call but this one with
   * UNAVAILABLE until it is restarted; "damaged": a read found a damaged record
   */
  'storeState'?: (string);
  /**
   * what failed, or what was found damaged
   */
  'storeError'?: (string);
  /**
   * when the store failed (ms; 0 otherwise)
   */
  'storeSince'?: (number | string | Long);
  /**
   * where the state is: "level:DIR" (the embedded store), or the PostgreSQL URL without its
   * password (docs/scaling.md)
   */
  'store'?: (string);
  /**
   * PostgreSQL: the writer epoch this daemon took with the database's writer lock (it is the
   * active daemon; a standby does not answer); 0 on LevelDB
   */
  'writerEpoch'?: (number | string | Long);
  /**
   * PostgreSQL: the store schema version; 0 on LevelDB
   */
  'schemaVersion'?: (number);
}

export interface StatusResponse__Output {
  'version': (string);
  /**
   * host:port actually bound
   */
  'listen': (string);
  'advertise': (string);
  'caFingerprint': (string);
  'dataDir': (string);
  'startedAt': (number);
  /**
   * "ok"; "failed": a store write failed, and the daemon refuses every call but this one with
   * UNAVAILABLE until it is restarted; "damaged": a read found a damaged record
   */
  'storeState': (string);
  /**
   * what failed, or what was found damaged
   */
  'storeError': (string);
  /**
   * when the store failed (ms; 0 otherwise)
   */
  'storeSince': (number);
  /**
   * where the state is: "level:DIR" (the embedded store), or the PostgreSQL URL without its
   * password (docs/scaling.md)
   */
  'store': (string);
  /**
   * PostgreSQL: the writer epoch this daemon took with the database's writer lock (it is the
   * active daemon; a standby does not answer); 0 on LevelDB
   */
  'writerEpoch': (number);
  /**
   * PostgreSQL: the store schema version; 0 on LevelDB
   */
  'schemaVersion': (number);
}
