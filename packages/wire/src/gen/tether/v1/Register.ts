// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto

import type { Capability as _tether_v1_Capability, Capability__Output as _tether_v1_Capability__Output } from '../../tether/v1/Capability.js';

export interface Register {
  /**
   * MUST equal the id in the client certificate
   */
  'deviceId'?: (string);
  /**
   * at most 64
   */
  'capabilities'?: (_tether_v1_Capability)[];
  /**
   * e.g. "linux-x64"
   */
  'platform'?: (string);
  /**
   * node software version
   */
  'version'?: (string);
  /**
   * jobs the node will run at once (capped by the daemon)
   */
  'maxConcurrency'?: (number);
}

export interface Register__Output {
  /**
   * MUST equal the id in the client certificate
   */
  'deviceId': (string);
  /**
   * at most 64
   */
  'capabilities': (_tether_v1_Capability__Output)[];
  /**
   * e.g. "linux-x64"
   */
  'platform': (string);
  /**
   * node software version
   */
  'version': (string);
  /**
   * jobs the node will run at once (capped by the daemon)
   */
  'maxConcurrency': (number);
}
