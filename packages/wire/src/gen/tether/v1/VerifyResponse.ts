// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto


export interface VerifyResponse {
  /**
   * "valid" | "revoked" | "expired" | "unknown"
   */
  'status'?: (string);
  /**
   * when issued by this CA to a device
   */
  'deviceId'?: (string);
  /**
   * when valid
   */
  'role'?: (string);
  /**
   * human-readable explanation
   */
  'reason'?: (string);
  /**
   * with peer_device_id: the policy's answer (docs/fleet.md 5B)
   */
  'allowed'?: (boolean);
  /**
   * why allowed or not
   */
  'policy'?: (string);
}

export interface VerifyResponse__Output {
  /**
   * "valid" | "revoked" | "expired" | "unknown"
   */
  'status': (string);
  /**
   * when issued by this CA to a device
   */
  'deviceId': (string);
  /**
   * when valid
   */
  'role': (string);
  /**
   * human-readable explanation
   */
  'reason': (string);
  /**
   * with peer_device_id: the policy's answer (docs/fleet.md 5B)
   */
  'allowed': (boolean);
  /**
   * why allowed or not
   */
  'policy': (string);
}
