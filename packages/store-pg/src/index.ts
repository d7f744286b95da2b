/** @tether/store-pg: the storage contract (Repository) on PostgreSQL, with versioned migrations. */
export { PgStoreError } from "./errors.js";
export type { PgStoreErrorCode } from "./errors.js";
export { PG_SCHEMA_VERSION, PgStore } from "./store.js";
export type { PgStoreOptions, SchemaChange } from "./store.js";
export { DEFAULT_FEED_POLL_MS, FEED_CHANNEL } from "./feed.js";
export type { Change, Follower } from "./feed.js";
