// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { WebhookDelivery as _tether_v1_WebhookDelivery, WebhookDelivery__Output as _tether_v1_WebhookDelivery__Output } from '../../tether/v1/WebhookDelivery.js';
import type { Long } from '@grpc/proto-loader';

export interface WebhookMessage {
  /**
   * the webhook-id receivers see
   */
  'id'?: (string);
  /**
   * the event
   */
  'type'?: (string);
  /**
   * ms
   */
  'createdAt'?: (number | string | Long);
  'deliveries'?: (_tether_v1_WebhookDelivery)[];
}

export interface WebhookMessage__Output {
  /**
   * the webhook-id receivers see
   */
  'id': (string);
  /**
   * the event
   */
  'type': (string);
  /**
   * ms
   */
  'createdAt': (number);
  'deliveries': (_tether_v1_WebhookDelivery__Output)[];
}
