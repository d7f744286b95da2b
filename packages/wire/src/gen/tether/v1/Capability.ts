// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto


export interface Capability {
  /**
   * [a-z0-9][a-z0-9._-]{0,63}
   */
  'name'?: (string);
  /**
   * at most 256 bytes
   */
  'description'?: (string);
  /**
   * JSON Schema text, optional, at most 16 KiB
   */
  'inputSchema'?: (string);
  /**
   * JSON Schema text, optional, at most 16 KiB
   */
  'outputSchema'?: (string);
}

export interface Capability__Output {
  /**
   * [a-z0-9][a-z0-9._-]{0,63}
   */
  'name': (string);
  /**
   * at most 256 bytes
   */
  'description': (string);
  /**
   * JSON Schema text, optional, at most 16 KiB
   */
  'inputSchema': (string);
  /**
   * JSON Schema text, optional, at most 16 KiB
   */
  'outputSchema': (string);
}
