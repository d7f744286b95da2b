/** @tether/node: the node SDK. pair() now; connect() and capability handlers come with streams. */
export { NodeError } from "./errors.js";
export type { NodeErrorCode } from "./errors.js";
export { pair } from "./pair.js";
export type { PairOptions, PairResult } from "./pair.js";
export {
  NODE_STATE_ENV,
  STATE_FILES,
  defaultStateDir,
  loadOrCreateIdentity,
  loadOrCreateTlsKey,
  readPairedState,
} from "./state.js";
export type { Identity, PairedState, TlsKey } from "./state.js";
