/**
 * Structured logs: one JSON object a line on stderr. Callers pass fields, never secrets;
 * values that are Secret instances redact themselves when serialised.
 */
export type Fields = Record<string, unknown>;
export type Logger = {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
};

export function createLogger(write: (line: string) => void = (l) => process.stderr.write(l), now: () => number = Date.now): Logger {
  const emit = (level: string, msg: string, fields?: Fields) =>
    write(`${JSON.stringify({ time: new Date(now()).toISOString(), level, msg, ...fields })}\n`);
  return {
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
