// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto

import type { Long } from '@grpc/proto-loader';

export interface NodeInfo {
  'deviceId'?: (string);
  'name'?: (string);
  'role'?: (string);
  'online'?: (boolean);
  /**
   * ms since epoch
   */
  'lastSeen'?: (number | string | Long);
  'capabilities'?: (string)[];
  'platform'?: (string);
  'version'?: (string);
  'inFlight'?: (number);
  'maxConcurrency'?: (number);
  /**
   * online, but taking no new jobs: it is finishing its running
   */
  'draining'?: (boolean);
}

export interface NodeInfo__Output {
  'deviceId': (string);
  'name': (string);
  'role': (string);
  'online': (boolean);
  /**
   * ms since epoch
   */
  'lastSeen': (number);
  'capabilities': (string)[];
  'platform': (string);
  'version': (string);
  'inFlight': (number);
  'maxConcurrency': (number);
  /**
   * online, but taking no new jobs: it is finishing its running
   */
  'draining': (boolean);
}
