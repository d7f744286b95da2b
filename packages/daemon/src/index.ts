/** @tether/daemon: the composition root. */
export { DaemonError, describe, toServiceError } from "./errors.js";
export { createLogger, silentLogger } from "./log.js";
export type { LevelLogger, Logger } from "./log.js";
export {
  ADMIN_SOCKET_NAME,
  DATA_DIR_ENV,
  DEFAULT_LISTEN,
  defaultDataDir,
  formatHostPort,
  parseDuration,
  parseHostPort,
  resolveDaemonConfig,
} from "./config.js";
export type { DaemonConfig } from "./config.js";
export { STORE_TABLES, VERSION, startDaemon } from "./daemon.js";
export { initAuthority } from "./authority.js";
export type { RunningDaemon } from "./daemon.js";
export type { StoreState } from "./health.js";
export { checkStore, repairStore } from "./maintenance.js";
export type { RepairAction, StoreCheck, StoreRepair } from "./maintenance.js";
