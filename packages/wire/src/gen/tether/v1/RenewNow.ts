// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto


/**
 * The admin asked for a new certificate (`tether devices rotate`): the node SHOULD call Renew now.
 * Devices that only make calls are told by the `tether-renew-now` response header instead
 * (docs/fleet.md §5A.4).
 */
export interface RenewNow {
  'reason'?: (string);
}

/**
 * The admin asked for a new certificate (`tether devices rotate`): the node SHOULD call Renew now.
 * Devices that only make calls are told by the `tether-renew-now` response header instead
 * (docs/fleet.md §5A.4).
 */
export interface RenewNow__Output {
  'reason': (string);
}
