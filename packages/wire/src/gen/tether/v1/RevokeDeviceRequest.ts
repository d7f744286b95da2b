// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto


/**
 * Revoking ends the device's streams and refuses its certificates first, before the write
 * (docs/fleet.md §5.1); the answer comes once the revocation is durable and the device's
 * unfinished jobs are failed. The CRL is signed and pushed right after, or before the answer
 * with wait_crl; the answer's Device.crl_pending says which.
 */
export interface RevokeDeviceRequest {
  'id'?: (string);
  'reason'?: (string);
  'waitCrl'?: (boolean);
}

/**
 * Revoking ends the device's streams and refuses its certificates first, before the write
 * (docs/fleet.md §5.1); the answer comes once the revocation is durable and the device's
 * unfinished jobs are failed. The CRL is signed and pushed right after, or before the answer
 * with wait_crl; the answer's Device.crl_pending says which.
 */
export interface RevokeDeviceRequest__Output {
  'id': (string);
  'reason': (string);
  'waitCrl': (boolean);
}
