/**
 * Structured logs: one JSON object a line on stderr. Callers pass fields, never secrets;
 * values that are Secret instances redact themselves when serialised.
 */
export type Fields = Record<string, unknown>;
export type Logger = {
  /** per-job and other high-volume lines; written only with TETHER_LOG_LEVEL=debug */
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
};

export const LOG_LEVEL_ENV = "TETHER_LOG_LEVEL";

/** A JSON-lines logger; `debug` lines only when `debug` is true (default: $TETHER_LOG_LEVEL is "debug"). */
export function createLogger(
  write: (line: string) => void = (l) => process.stderr.write(l),
  now: () => number = Date.now,
  debug = process.env[LOG_LEVEL_ENV] === "debug",
): Logger {
  const emit = (level: string, msg: string, fields?: Fields) =>
    write(`${JSON.stringify({ time: new Date(now()).toISOString(), level, msg, ...fields })}\n`);
  return {
    debug: debug ? (m, f) => emit("debug", m, f) : () => {},
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
