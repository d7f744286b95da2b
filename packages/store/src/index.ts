/** @tether/store: typed JSON records in LevelDB with atomic, synced batches, checked for damage. */
export { StoreError } from "./errors.js";
export type { StoreErrorCode } from "./errors.js";
export { DAMAGE_FILE, ProblemKind, WITNESS_FILE } from "./integrity.js";
export type { StoreProblem, WitnessState } from "./integrity.js";
export { FAULT_FILE_ENV, SCHEMA_VERSION, Store } from "./store.js";
export type { Inspection, Op, Schema } from "./store.js";
