// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto


export interface WebhookReceiver {
  /**
   * ep_ and 16 hex digits, stable for one URL
   */
  'id'?: (string);
  /**
   * with any password in it replaced by ***
   */
  'url'?: (string);
  /**
   * messages not yet taken
   */
  'pending'?: (number);
  'delivered'?: (number);
  /**
   * given up on after --webhook-retry-for
   */
  'failed'?: (number);
}

export interface WebhookReceiver__Output {
  /**
   * ep_ and 16 hex digits, stable for one URL
   */
  'id': (string);
  /**
   * with any password in it replaced by ***
   */
  'url': (string);
  /**
   * messages not yet taken
   */
  'pending': (number);
  'delivered': (number);
  /**
   * given up on after --webhook-retry-for
   */
  'failed': (number);
}
