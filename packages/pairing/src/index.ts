/** @tether/pairing: pairing codes and the pairing state machine. Depends on interfaces only. */
export { PairingError } from "./errors.js";
export type { PairingErrorCode } from "./errors.js";
export {
  DEFAULT_CODE_TTL_MS,
  DEFAULT_REQUEST_TTL_MS,
  MAX_CODE_ATTEMPTS,
  MAX_CODE_TTL_MS,
  MIN_CODE_TTL_MS,
  SESSION_TTL_MS,
  SIGNED_TIMESTAMP_WINDOW_MS,
  resolvePairingConfig,
} from "./config.js";
export type { PairingConfig } from "./config.js";
export { PairingManager } from "./manager.js";
export { presenceWorthWriting } from "./devices.js";
export { keyFingerprint } from "./requests.js";
export type { MintedCode } from "./codes.js";
export { MAX_CODE_USES } from "./codes.js";
export type { Clock, PairingAuthority, RandomBytes } from "./context.js";
export type { KeyRequest } from "./devices.js";
export type { ReturnInput, ReturnOutcome } from "./returns.js";
export type { RevealOutput, StartInput, StartOutput } from "./handshake.js";
export type { RequestView } from "./requests.js";
export { PAIRING_TABLES } from "./records.js";
export { formatJobScope, jobScopeCovers, parseJobScope } from "./scope.js";
export type {
  CapabilityInfo,
  CodePolicy,
  CodeRecord,
  CodeState,
  DeviceRecord,
  JobScope,
  PairingOp,
  PairingRepository,
  PairingTables,
  PreauthorizationRecord,
  RequestRecord,
  RequestState,
} from "./records.js";
