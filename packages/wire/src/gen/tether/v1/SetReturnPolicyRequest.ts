// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto


/**
 * Whether a device's returns after its certificate expired (Pairing.Return, docs/fleet.md
 * §5A.5) wait for an admin even within the daemon's --return-grace. Audited as
 * device.return_policy_changed when it changes.
 */
export interface SetReturnPolicyRequest {
  'id'?: (string);
  'needsApproval'?: (boolean);
}

/**
 * Whether a device's returns after its certificate expired (Pairing.Return, docs/fleet.md
 * §5A.5) wait for an admin even within the daemon's --return-grace. Audited as
 * device.return_policy_changed when it changes.
 */
export interface SetReturnPolicyRequest__Output {
  'id': (string);
  'needsApproval': (boolean);
}
