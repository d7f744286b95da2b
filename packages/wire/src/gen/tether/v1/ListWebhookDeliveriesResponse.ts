// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { WebhookMessage as _tether_v1_WebhookMessage, WebhookMessage__Output as _tether_v1_WebhookMessage__Output } from '../../tether/v1/WebhookMessage.js';

export interface ListWebhookDeliveriesResponse {
  'messages'?: (_tether_v1_WebhookMessage)[];
}

export interface ListWebhookDeliveriesResponse__Output {
  'messages': (_tether_v1_WebhookMessage__Output)[];
}
