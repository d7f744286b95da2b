// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface WebhookDelivery {
  /**
   * WebhookReceiver.id
   */
  'receiver'?: (string);
  /**
   * pending | delivered | failed
   */
  'state'?: (string);
  'attempts'?: (number);
  /**
   * ms; 0 when done
   */
  'nextAt'?: (number | string | Long);
  /**
   * the receiver's last HTTP status; 0 when it did not answer
   */
  'lastStatus'?: (number);
  'lastError'?: (string);
  /**
   * ms; 0 while pending
   */
  'doneAt'?: (number | string | Long);
}

export interface WebhookDelivery__Output {
  /**
   * WebhookReceiver.id
   */
  'receiver': (string);
  /**
   * pending | delivered | failed
   */
  'state': (string);
  'attempts': (number);
  /**
   * ms; 0 when done
   */
  'nextAt': (number);
  /**
   * the receiver's last HTTP status; 0 when it did not answer
   */
  'lastStatus': (number);
  'lastError': (string);
  /**
   * ms; 0 while pending
   */
  'doneAt': (number);
}
