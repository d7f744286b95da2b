/** @tether/store: typed JSON records in LevelDB with atomic, synced batches. */
export { StoreError } from "./errors.js";
export { SCHEMA_VERSION, Store } from "./store.js";
export type { Op, Schema } from "./store.js";
