/** The daemon's logs use the one schema of @tether/base (docs/operations.md, "Logs"). */
export { LOG_LEVEL_ENV, createLogger, silentLogger } from "@tether/base";
export type { Fields, LevelLogger, LogLevel, Logger } from "@tether/base";
