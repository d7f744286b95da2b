/**
 * The one log schema of tether's processes (the daemon and `tether node run`): one JSON object
 * a line, `{"time":"<RFC 3339 UTC>","level":"error|warn|info|debug","msg":"…", …fields}`
 * (docs/operations.md, "Logs"). Callers pass fields, never secrets; values that are Secret
 * instances redact themselves when serialised. Lines are written with visibleJson, so text
 * from outside in a field stays inert on a terminal and parses to what was logged.
 *
 * The level is a value the logger holds: `setLevel` changes what is written from then on.
 */
import { clip, visibleJson } from "./text.js";

export type Fields = Record<string, unknown>;
export type Logger = {
  /** per-job and other high-volume lines; written only at level debug */
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
};

/** The levels, most severe first: a logger at one level writes it and those before it. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = "info";
export const LOG_LEVEL_ENV = "TETHER_LOG_LEVEL";

/** A logger whose level can be read and changed (a configuration reload, say). */
export type LevelLogger = Logger & {
  readonly level: LogLevel;
  /** @throws TypeError for a value that is not one of LOG_LEVELS */
  setLevel(level: LogLevel): void;
};

/** One line before it is written: the schema's keys first, then the caller's fields. */
export type LogRecord = { time: string; level: LogLevel; msg: string } & Fields;

export type LoggerOptions = {
  /** where each line goes, newline included (default: stderr) */
  write?: (line: string) => void;
  now?: () => number;
  /**
   * The starting level as configured, e.g. $TETHER_LOG_LEVEL (the default). Empty or absent
   * means info; an unknown value is reported once, in a warn line, and info is used.
   */
  level?: string | undefined;
  /** how a record becomes a line, without the newline (default: JSON) */
  format?: (r: LogRecord) => string;
};

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const RESERVED = new Set(["time", "level", "msg"]);

/** The level a configured value names (case and surrounding blanks ignored), or undefined. */
export function parseLogLevel(value: string): LogLevel | undefined {
  const v = value.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : undefined;
}

/** The record of one line. A field named like a schema key is kept, as `_time`, `_level` or `_msg`. */
export function logRecord(time: number, level: LogLevel, msg: string, fields?: Fields): LogRecord {
  const r: LogRecord = { time: new Date(time).toISOString(), level, msg };
  if (fields) for (const [k, v] of Object.entries(fields)) r[RESERVED.has(k) ? `_${k}` : k] = v;
  return r;
}

/** A logger of the schema above; `createLogger(write)` is short for `createLogger({ write })`. */
export function createLogger(o: LoggerOptions | ((line: string) => void) = {}): LevelLogger {
  const opts: LoggerOptions = typeof o === "function" ? { write: o } : o;
  const write = opts.write ?? ((l: string) => void process.stderr.write(l));
  const now = opts.now ?? Date.now;
  const format = opts.format ?? ((r: LogRecord) => visibleJson(r));
  const configured = "level" in opts ? opts.level : process.env[LOG_LEVEL_ENV];
  const parsed = configured?.trim() ? parseLogLevel(configured) : DEFAULT_LOG_LEVEL;
  let level: LogLevel = parsed ?? DEFAULT_LOG_LEVEL;
  let rank = RANK[level];
  const emit = (l: LogLevel, msg: string, fields?: Fields) => {
    if (RANK[l] <= rank) write(`${format(logRecord(now(), l, msg, fields))}\n`);
  };
  const logger: LevelLogger = {
    get level() {
      return level;
    },
    setLevel(next: LogLevel) {
      if (!(LOG_LEVELS as readonly string[]).includes(next)) throw new TypeError(`"level" expected one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(next)}`);
      level = next;
      rank = RANK[next];
    },
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
  if (!parsed) {
    logger.warn("unknown log level; using info", { variable: LOG_LEVEL_ENV, value: clip(String(configured)), levels: LOG_LEVELS });
  }
  return logger;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
