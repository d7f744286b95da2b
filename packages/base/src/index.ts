/** @tether/base: small helpers with no tether concepts, shared by several packages. */
export { createDirExclusive, createFileExclusive, writeFileAtomic } from "./atomic.js";
export { Mutex } from "./mutex.js";
export { GroupCommit } from "./group.js";
export type { CommitGroup, Member } from "./group.js";
export { AuditEvent, expectedText, isConflict } from "./repository.js";
export type { AuditRecord, BatchOptions, Conflict, Expectation, Op, Repository, ScanOptions, Schema } from "./repository.js";
export { splitHostPort } from "./address.js";
export { parseDurationMs } from "./duration.js";
export { ECHO_MAX_CHARS, clip, redactUrl, visible, visibleJson } from "./text.js";
export { DEFAULT_LOG_LEVEL, LOG_LEVELS, LOG_LEVEL_ENV, createLogger, logRecord, parseLogLevel, silentLogger } from "./log.js";
export type { Fields, LevelLogger, LogLevel, LogRecord, Logger, LoggerOptions } from "./log.js";
