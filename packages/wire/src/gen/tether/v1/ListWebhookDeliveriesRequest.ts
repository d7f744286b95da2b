// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto


export interface ListWebhookDeliveriesRequest {
  /**
   * "" = all; else pending | delivered | failed (a message with a delivery in that state)
   */
  'state'?: (string);
  /**
   * 0 = 100; at most 1000
   */
  'limit'?: (number);
}

export interface ListWebhookDeliveriesRequest__Output {
  /**
   * "" = all; else pending | delivered | failed (a message with a delivery in that state)
   */
  'state': (string);
  /**
   * 0 = 100; at most 1000
   */
  'limit': (number);
}
