// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto


export interface CreateCodeRequest {
  /**
   * "pin" | "qr"
   */
  'method'?: (string);
  /**
   * 0 = default (300); at most 3600
   */
  'ttlSeconds'?: (number);
  /**
   * The code's policy (docs/operations.md, "Codes that carry their policy"); all optional.
   */
  'role'?: (string);
  /**
   * labels set on the device at approval
   */
  'labels'?: ({[key: string]: string});
  /**
   * approve each request made with it as soon as its handshake finishes
   */
  'approve'?: (boolean);
  /**
   * devices that may pair with it within its lifetime: 0 = 1; at most 1000
   */
  'uses'?: (number);
}

export interface CreateCodeRequest__Output {
  /**
   * "pin" | "qr"
   */
  'method': (string);
  /**
   * 0 = default (300); at most 3600
   */
  'ttlSeconds': (number);
  /**
   * The code's policy (docs/operations.md, "Codes that carry their policy"); all optional.
   */
  'role': (string);
  /**
   * labels set on the device at approval
   */
  'labels': ({[key: string]: string});
  /**
   * approve each request made with it as soon as its handshake finishes
   */
  'approve': (boolean);
  /**
   * devices that may pair with it within its lifetime: 0 = 1; at most 1000
   */
  'uses': (number);
}
