/** @tether/daemon: the composition root. */
export { DaemonError, describe, toServiceError } from "./errors.js";
export { createLogger, silentLogger } from "./log.js";
export type { LevelLogger, LogLevel, Logger } from "./log.js";
export {
  ADMIN_SOCKET_NAME,
  DATA_DIR_ENV,
  DEFAULT_LISTEN,
  defaultDataDir,
  formatHostPort,
  parseCount,
  parseDuration,
  parseHandshakeTimeout,
  parseHostPort,
  parseRate,
  parseStore,
  resolveDaemonConfig,
} from "./config.js";
export type { DaemonConfig, LiveConfig } from "./config.js";
export { DEFAULT_START_RATE_LIMIT } from "./ratelimit.js";
export { STORE_TABLES, VERSION, startDaemon } from "./daemon.js";
export { initAuthority } from "./authority.js";
export { startReplica } from "./replica.js";
export type { RunningReplica } from "./replica.js";
export { exportKek, upgradeStore } from "./stores.js";
export { migrateStore } from "./migrate.js";
export type { MigrateResult } from "./migrate.js";
export { kekIdOf, readKekFile, writeNewKek } from "./vault.js";
export type { ReloadResult, RunningDaemon } from "./daemon.js";
export type { StoreState } from "./health.js";
export { checkStore, repairStore } from "./maintenance.js";
export type { RepairAction, StoreCheck, StoreRepair } from "./maintenance.js";
