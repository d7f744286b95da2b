/** @tether/webhooks: events read off the store's batches, a durable outbox, Standard Webhooks signatures, and the sender. */
export { WEBHOOK_EVENTS, eventsOf } from "./events.js";
export type { WebhookEvent, WebhookEventType } from "./events.js";
export { OutboxIds, WEBHOOK_TABLES, endpoint, outboxRecords } from "./outbox.js";
export type { Delivery, Endpoint, OutboxRecord, WebhookTables } from "./outbox.js";
export { MIN_SECRET_BYTES, SECRET_PREFIX, parseSecret, sign, signedHeaders } from "./sign.js";
export { DEFAULT_RETRY, KEEP_DONE_MS, PASS_INTERVAL_MS, RESCAN_MS, WebhookSender, backoffMs, post } from "./sender.js";
export type { Post, RetryPolicy } from "./sender.js";
export { MAX_DELIVERIES_LIMIT, messages, receivers, redeliver } from "./admin.js";
export { watchEvents, watchIntervalMs } from "./watch.js";
export type { WatchMark, WatchPolicy, Watched } from "./watch.js";
export type { ReceiverSummary } from "./admin.js";
