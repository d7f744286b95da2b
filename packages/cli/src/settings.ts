/**
 * Settings: flags that can also be given in the environment and in a TOML config file
 * (`tether daemon`, docs/operations.md "Configuration"). The command's options table is the
 * only list: every flag in it (but the few a command excludes, such as --config itself) is a
 * setting, and its three names follow one rule,
 *
 *   flag --cert-lifetime   <->   env TETHER_CERT_LIFETIME   <->   file key cert-lifetime
 *
 * (upper case, "-" as "_", after TETHER_; a flag may name an existing variable instead with
 * `env`, as --data-dir does with TETHER_HOME). So a flag added to the table later has its
 * variable and key at once. Precedence: flag > environment > file > default. A value from the
 * environment or the file is checked as the flag's would be, and an error names where the
 * value came from (`TETHER_LISTEN: must be ...`, `FILE: listen: must be ...`): `labelOf`
 * gives the prefix to put before "must be".
 */
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createRequire } from "node:module";
import type { Flag, Flags, Values } from "./cli.js";
import { CliError, Exit, didYouMean, nearest, orList } from "./cli.js";

export const ENV_PREFIX = "TETHER_";
/** A config file larger than this is refused (a setting file is a few hundred bytes). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export type Setting = { name: string; flag: Flag; env: string };

/** Where a resolved value came from. */
export type Source = { source: "flag"; from: string } | { source: "env"; from: string } | { source: "file"; from: string } | { source: "default" };

/** --cert-lifetime -> TETHER_CERT_LIFETIME (or the flag's own `env`). */
export function envNameOf(name: string, flag: Flag): string {
  return flag.env ?? `${ENV_PREFIX}${name.toUpperCase().replace(/-/g, "_")}`;
}

/** The settings of an options table: every flag but those in `exclude`. */
export function settingsOf(options: Flags, exclude: readonly string[] = []): Setting[] {
  return Object.entries(options)
    .filter(([name]) => !exclude.includes(name))
    .map(([name, flag]) => ({ name, flag, env: envNameOf(name, flag) }));
}

export type ConfigFile = { path: string; table: Record<string, unknown> };

function fileError(message: string, cause?: unknown): CliError {
  return new CliError(Exit.Usage, message, cause === undefined ? undefined : { cause });
}

/**
 * Read and parse a TOML config file. Refused, naming the file (exit 2): one that cannot be
 * read, is not a regular file, is larger than MAX_CONFIG_FILE_BYTES, is not UTF-8 TOML
 * (`FILE:LINE:COLUMN: ...`), or that another user could change: owned by someone other than
 * root or this process's user, or writable by others (docs/security.md, row 53).
 */
export function readConfigFile(given: string): ConfigFile {
  const path = resolve(given);
  let text: string;
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const st = fstatSync(fd);
    if (!st.isFile()) throw fileError(`config file ${path} is not a regular file`);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== 0 && st.uid !== uid) {
      throw fileError(`config file ${path} belongs to user ${st.uid}, not to root or to this user (${uid}): another user could change the daemon's settings; chown it`);
    }
    if (st.mode & 0o002) {
      throw fileError(
        `config file ${path} is writable by every user (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}): anyone could change the daemon's settings; run: chmod o-w ${path}`,
      );
    }
    if (st.size > MAX_CONFIG_FILE_BYTES) throw fileError(`config file ${path} is larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    text = new TextDecoder("utf-8", { fatal: true }).decode(readFileSync(fd));
  } catch (err) {
    if (err instanceof CliError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e instanceof TypeError) throw fileError(`config file ${path} is not UTF-8 text`, err);
    throw fileError(`cannot read config file ${path}: ${e.code ?? e.message}${e.code === "ENOENT" ? " (no such file)" : e.code === "EACCES" ? " (permission denied)" : ""}`, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  // Required here, not imported at the top: every CLI start-up loads this module (build.js).
  const { TomlError, parse: parseToml } = createRequire(import.meta.url)("smol-toml") as typeof import("smol-toml");
  try {
    return { path, table: parseToml(text) as Record<string, unknown> };
  } catch (err) {
    if (err instanceof TomlError) {
      // The parser's message goes on with a copy of the lines around the error: only its first line is kept.
      const first = err.message.split("\n")[0]?.replace(/^Invalid TOML document: /, "") ?? "invalid TOML";
      throw fileError(`${path}:${err.line}:${err.column}: ${first} (TOML syntax)`, err);
    }
    throw fileError(`${path}: ${(err as Error).message.split("\n")[0]}`, err);
  }
}

export type Resolved = {
  /** every setting's value, as parse() gives a flag's (string, boolean, or a list for a repeatable flag); undefined: the default */
  values: Values;
  sources: Record<string, Source>;
  file: string | undefined;
  /** what was ignored, for the log: unknown TETHER_* variables, with the nearest settings' */
  ignored: { variable: string; suggestions: string[] }[];
  /** the prefix for an error about `name`'s value: "--listen", "TETHER_LISTEN:", "FILE: listen:" */
  labelOf(name: string): string;
};

const BOOLEAN_WORDS: Record<string, boolean> = { true: true, false: false, "1": true, "0": false, yes: true, no: false, on: true, off: false };

function typeName(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date || (typeof v === "object" && v !== null && "toISOString" in v)) return "a date";
  if (typeof v === "object" && v !== null) return "a table";
  if (typeof v === "number") return Number.isInteger(v) ? "an integer" : "a float";
  return typeof v === "boolean" ? "a boolean" : `a ${typeof v}`;
}

/** One value from the file, checked for the flag's type. */
function fromFile(s: Setting, v: unknown, label: string): string | boolean | (string | boolean)[] {
  if (s.flag.multiple) {
    const items = Array.isArray(v) ? v : [v];
    return items.map((x) => fromFile({ ...s, flag: { ...s.flag, multiple: false } }, x, label) as string | boolean);
  }
  if (s.flag.type === "boolean") {
    if (typeof v === "boolean") return v;
    throw fileError(`${label} must be true or false (a TOML boolean, no quotes), got ${typeName(v)}`);
  }
  if (typeof v === "string") return v;
  // A count or a duration in seconds may be written as a TOML number: checked as its text is.
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  throw fileError(`${label} must be a string${s.flag.value ? ` (${s.flag.value})` : ""}, got ${typeName(v)}`);
}

/** One value from the environment; empty counts as unset. */
function fromEnv(s: Setting, v: string, label: string): string | boolean | (string | boolean)[] {
  if (s.flag.multiple) {
    return v
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean)
      .map((x) => fromEnv({ ...s, flag: { ...s.flag, multiple: false } }, x, label) as string | boolean);
  }
  if (s.flag.type === "boolean") {
    const b = BOOLEAN_WORDS[v.trim().toLowerCase()];
    if (b === undefined) throw fileError(`${label} must be true or false (or 1/0, yes/no, on/off), got ${JSON.stringify(v)}`);
    return b;
  }
  return v;
}

function checkChoices(s: Setting, value: unknown, label: string): void {
  if (!s.flag.choices) return;
  for (const x of Array.isArray(value) ? value : [value]) {
    if (!s.flag.choices.includes(String(x))) throw fileError(`${label} must be ${orList(s.flag.choices)}, not ${JSON.stringify(x)}`);
  }
}

/**
 * The settings' values: the flags given (`values`, from parse()), else the environment, else
 * the config file, else undefined (the default). Refused with exit 2: a key in the file that
 * is no setting (naming it, with the nearest), a value of the wrong type, a value outside a
 * flag's choices. A TETHER_* variable that is neither a setting nor in `known` is not an
 * error (the environment is shared with other programs): it is listed in `ignored`.
 */
export function resolveSettings(
  settings: readonly Setting[],
  o: { command: string; values: Values; env: NodeJS.ProcessEnv; file?: ConfigFile; known?: readonly string[] },
): Resolved {
  const byName = new Map(settings.map((s) => [s.name, s]));
  const values: Values = {};
  const sources: Record<string, Source> = {};
  const label = (name: string, src: Source) => {
    if (src.source === "env") return `${src.from}:`;
    if (src.source === "file") return `${src.from}: ${name}:`;
    return `--${name}`;
  };
  for (const s of settings) sources[s.name] = { source: "default" };
  if (o.file) {
    for (const [key, v] of Object.entries(o.file.table)) {
      const s = byName.get(key);
      if (!s) {
        const near = nearest(key, [...byName.keys()]);
        throw new CliError(
          Exit.Usage,
          `${o.file.path}: unknown key ${JSON.stringify(key)}${didYouMean(near)} (the keys are the flags of tether ${o.command} without their dashes: tether ${o.command} --help)`,
          {
            problem: { word: key, suggestions: near },
          },
        );
      }
      const src: Source = { source: "file", from: o.file.path };
      const value = fromFile(s, v, label(key, src));
      checkChoices(s, value, label(key, src));
      values[key] = value;
      sources[key] = src;
    }
  }
  for (const s of settings) {
    const v = o.env[s.env];
    if (v === undefined || v === "") continue;
    const src: Source = { source: "env", from: s.env };
    const value = fromEnv(s, v, label(s.name, src));
    checkChoices(s, value, label(s.name, src));
    values[s.name] = value;
    sources[s.name] = src;
  }
  for (const s of settings) {
    if (o.values[s.name] === undefined) continue;
    values[s.name] = o.values[s.name];
    sources[s.name] = { source: "flag", from: `--${s.name}` };
  }
  const ours = settings.map((s) => s.env);
  const known = new Set([...ours, ...(o.known ?? [])]);
  const ignored = Object.keys(o.env)
    .filter((k) => k.startsWith(ENV_PREFIX) && !known.has(k))
    .sort()
    .map((k) => ({ variable: k, suggestions: nearest(k.slice(ENV_PREFIX.length), ours, (c) => c.slice(ENV_PREFIX.length)) }));
  return {
    values,
    sources,
    file: o.file?.path,
    ignored,
    labelOf: (name) => label(name, sources[name] ?? { source: "default" }),
  };
}
