// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { WebhookReceiver as _tether_v1_WebhookReceiver, WebhookReceiver__Output as _tether_v1_WebhookReceiver__Output } from '../../tether/v1/WebhookReceiver.js';

export interface ListWebhooksResponse {
  'receivers'?: (_tether_v1_WebhookReceiver)[];
}

export interface ListWebhooksResponse__Output {
  'receivers': (_tether_v1_WebhookReceiver__Output)[];
}
