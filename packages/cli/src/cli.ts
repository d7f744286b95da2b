/**
 * The CLI's shared machinery: argument parsing with help, output in human or --json form,
 * exit codes, and the admin client over the daemon's Unix socket. Commands live one a file
 * under commands/.
 */
import { accessSync, constants as fsConstants, realpathSync } from "node:fs";
import { parseArgs } from "node:util";
import { delimiter, join, resolve, sep } from "node:path";
import type { Client, Metadata, ServiceError } from "@grpc/grpc-js";
import { visible, visibleJson } from "@tether/base";
import { ADMIN_SOCKET_NAME, MAX_ADMIN_MESSAGE_BYTES, defaultDataDir, packageRoot, packageVersion, tetherPackageDefinition } from "@tether/wire";

type Grpc = typeof import("@grpc/grpc-js");
let grpcModule: Grpc | undefined;
/**
 * @grpc/grpc-js, imported on the first call to the daemon. Nothing else in the CLI's start-up
 * imports it (or any other dependency): a command that makes no call (`--version`, `--help`,
 * a usage error) does not pay for loading it. Commands import their heavy modules the same
 * way, inside run() (docs/operations.md, "Packaging").
 */
export async function grpcJs(): Promise<Grpc> {
  grpcModule ??= await import("@grpc/grpc-js");
  return grpcModule;
}

/** Exit codes (docs/operations.md). */
export const Exit = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  Unreachable: 3,
  NotFound: 4,
  Conflict: 5,
  Rejected: 6,
  Expired: 7,
  AuthFailed: 8,
  Busy: 9,
  JobFailed: 10,
  JobTimedOut: 11,
  JobCancelled: 12,
  Tampered: 13,
  Store: 14,
} as const;

/** For a usage error about one word: the word (an unknown command, flag or argument) and the nearest spellings. */
export type WordProblem = { word: string; suggestions: readonly string[] };

export class CliError extends Error {
  readonly exitCode: number;
  /** the word a usage error is about, for --json (error.word, error.suggestions) */
  readonly problem: WordProblem | undefined;
  constructor(exitCode: number, message: string, options?: { cause?: unknown; problem?: WordProblem }) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
    this.problem = options?.problem;
  }
}

export type Io = { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv };

/** The CLI's own version (`tether version` also shows the protocol versions and the daemon's). */
export const CLI_VERSION = packageVersion();

/**
 * What completion offers for a value: files or directories, or live values that
 * `tether __complete KIND` reads from the daemon (commands/complete.ts).
 */
export type Completer = "files" | "dirs" | "requests" | "devices" | "orchestrators" | "revoked" | "capabilities" | "jobs" | "preauthorized";

/** A positional argument, as the usage line shows it and the parser checks it. */
export type Arg = {
  /** e.g. "ID", "KEY=VALUE" */
  name: string;
  /** what it is, for help and for the error when it is missing: "the request id" */
  about: string;
  optional?: boolean;
  /** takes the rest of the positionals (at least one unless optional) */
  variadic?: boolean;
  choices?: readonly string[];
  complete?: Completer;
};

/** A flag: what parseArgs needs, and what help and completion show. */
export type Flag = {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** the value's placeholder in help: DIR, SECONDS (default: the choices, else VALUE) */
  value?: string;
  about: string;
  /** the default as help shows it; the command applies it (booleans: off) */
  default?: string;
  required?: boolean;
  choices?: readonly string[];
  complete?: Completer;
  /**
   * Where the command reads its flags from the environment and a config file too (tether
   * daemon, settings.ts): the variable, when it is not the rule's TETHER_NAME.
   */
  env?: string;
};

export type Flags = Record<string, Flag>;

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export type Command = {
  /** e.g. "pair approve" */
  name: string;
  summary: string;
  /** The positionals, in order: the parser refuses any other and the usage line shows them. */
  args: readonly Arg[];
  options: Flags;
  /** Teaching text: what it does and what to do next. Flags, defaults and examples are added from the declarations. */
  help: string;
  /** At least one; each a command line, optionally followed by "   # why". */
  examples: readonly string[];
  /** The flags part of the usage line when required flags do not say it (a choice between flags). */
  synopsis?: string;
  /** Not listed in help or completion (tether __complete). */
  hidden?: boolean;
  run(args: { values: Values; positionals: string[]; io: Io }): Promise<number>;
};

export const COMMON_OPTIONS: Flags = {
  json: { type: "boolean", about: "print the result as JSON on stdout, and errors as JSON on stderr" },
  help: { type: "boolean", short: "h", about: "show this help" },
};

export const DATA_DIR_OPTION: Flags = {
  "data-dir": {
    type: "string",
    value: "DIR",
    about: "the daemon's data directory (its admin socket is DIR/admin.sock)",
    default: "$TETHER_HOME, else ~/.tether",
    complete: "dirs",
  },
};

export const OUTPUT_FORMATS = ["json", "table", "wide"] as const;

/** -o/--output on list and show commands: json (as --json), table, or wide (more columns). */
export const OUTPUT_OPTION: Flags = {
  output: { type: "string", short: "o", value: "FORMAT", about: "json (as --json), table, or wide (table with more columns)", default: "table", choices: OUTPUT_FORMATS },
};

/** The state directory of a device (node, orchestrator) on this machine. */
export const NODE_STATE_DIR_OPTION: Flags = {
  "state-dir": { type: "string", value: "DIR", about: "this device's state directory", default: "$TETHER_NODE_HOME, else ~/.tether-node", complete: "dirs" },
};

export const DAEMON_ADDRESS_OPTION: Flags = {
  daemon: { type: "string", value: "HOST:PORT", about: "the daemon's node listener", default: "the address in the state directory's node.json" },
};

/** The usage line, from the declarations: tether NAME ARGS REQUIRED-FLAGS [flags] */
export function usageOf(cmd: Command): string {
  const args = cmd.args.map((a) => {
    const s = `${a.name}${a.variadic ? "..." : ""}`;
    return a.optional ? `[${s}]` : s;
  });
  const required = Object.entries(cmd.options)
    .filter(([, f]) => f.required)
    .map(([n, f]) => `--${n} ${placeholder(f)}${f.multiple ? "..." : ""}`);
  return ["tether", cmd.name, ...args, cmd.synopsis ?? required.join(" "), "[flags]"].filter(Boolean).join(" ");
}

function placeholder(f: Flag): string {
  return f.value ?? (f.choices ? f.choices.join("|") : "VALUE");
}

/** Every flag a command takes: its own, then the common ones. */
export function flagsOf(cmd: Command): Flags {
  return { ...cmd.options, ...COMMON_OPTIONS };
}

/** Two columns: labels padded to one width, continuation lines of the text indented under it. */
function columns(rows: [string, string][]): string {
  const w = Math.min(26, Math.max(...rows.map(([l]) => l.length)));
  return rows
    .map(([label, text]) => {
      const [first = "", ...more] = text.split("\n");
      const head = label.length > w ? `  ${label}\n  ${"".padEnd(w)}  ${first}` : `  ${label.padEnd(w)}  ${first}`;
      return [head, ...more.map((m) => `  ${"".padEnd(w)}  ${m}`)].join("\n");
    })
    .join("\n");
}

/** `--help`: usage, the teaching text, arguments, every flag with its default, examples. */
export function helpOf(cmd: Command): string {
  const flags = Object.entries(flagsOf(cmd)).map(([name, f]): [string, string] => {
    const label = `${f.short ? `-${f.short}, ` : ""}--${name}${f.type === "string" ? ` ${placeholder(f)}` : ""}`;
    const note = name === "help" ? "" : f.required ? " (required)" : ` (${f.multiple ? "repeatable; " : ""}default: ${f.default ?? (f.type === "boolean" ? "off" : "none")})`;
    return [label, `${f.about}${note}`];
  });
  const args = cmd.args.map((a): [string, string] => [
    `${a.name}${a.variadic ? "..." : ""}`,
    `${a.about}${a.choices ? `: ${orList(a.choices)}` : ""}${a.optional ? " (optional)" : ""}`,
  ]);
  return [
    `Usage: ${usageOf(cmd)}`,
    "",
    cmd.help,
    ...(args.length ? ["", "Arguments:", columns(args)] : []),
    "",
    "Flags:",
    columns(flags),
    "",
    "Examples:",
    ...cmd.examples.map((e) => `  ${e}`),
    "",
  ].join("\n");
}

/** "a, b or c" */
export function orList(items: readonly string[]): string {
  return items.length < 2 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}

/**
 * The edit distance between two words (optimal string alignment: insertions, deletions,
 * substitutions and swaps of neighbours each count one).
 */
export function editDistance(a: string, b: string): number {
  const w = b.length + 1;
  const d = new Array<number>((a.length + 1) * w).fill(0);
  const at = (i: number, j: number) => d[i * w + j] as number;
  for (let i = 0; i <= a.length; i++) d[i * w] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * w + j] = v;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidates nearest to a mistyped word: within a third of its length (at least one edit),
 * or starting with it; the closest first, at most three.
 */
export function nearest(word: string, candidates: readonly string[], key: (c: string) => string = (c) => c): string[] {
  const limit = Math.max(1, Math.floor(word.length / 3));
  return candidates
    .map((c) => ({ c, d: key(c).startsWith(word) && word.length >= 2 ? 0.5 : editDistance(word, key(c)) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d)
    .slice(0, 3)
    .map((x) => x.c);
}

/** "; did you mean `x`?" (or one of several), or nothing. */
export function didYouMean(found: readonly string[]): string {
  if (found.length === 0) return "";
  return `; did you mean ${found.length === 1 ? "" : "one of "}${found.map((f) => `\`${f}\``).join(", ")}?`;
}

/** A usage error for `cmd`: the message, the usage line and where to read more. */
export function usageError(cmd: Command, message: string, options?: { cause?: unknown; problem?: WordProblem }): CliError {
  return new CliError(Exit.Usage, `${message}\nusage: ${usageOf(cmd)}\n(see: tether ${cmd.name} --help)`, options);
}

export type Parsed = { values: Values; positionals: string[]; help: boolean };

/**
 * Parse a command's arguments strictly: an unknown flag, a flag without its value, a value for
 * a boolean, a missing or extra positional, a missing required flag or a value outside a
 * flag's choices is a usage error naming the word (and the nearest flag). --help wins over
 * everything but unknown flags. `-o json` is the same as --json.
 */
export function parse(cmd: Command, argv: string[]): Parsed {
  const flags = flagsOf(cmd);
  const config = Object.fromEntries(
    Object.entries(flags).map(([n, f]) => [n, { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) }]),
  );
  const { values, positionals, tokens } = parseArgs({ args: argv, options: config, allowPositionals: true, strict: false, tokens: true });
  const names = Object.keys(flags).map((n) => `--${n}`);
  for (const t of tokens) {
    if (t.kind !== "option") continue;
    const f = flags[t.name];
    if (!f) {
      const near = nearest(t.rawName.replace(/^-+/, ""), names, (n) => n.slice(2));
      throw usageError(cmd, `unknown option ${t.rawName} for tether ${cmd.name}${didYouMean(near)}`, { problem: { word: t.rawName, suggestions: near } });
    }
    if (f.type === "boolean" && t.value !== undefined) throw usageError(cmd, `${t.rawName} takes no value (got ${JSON.stringify(t.value)})`);
    if (f.type === "string" && t.value === undefined) throw usageError(cmd, `${t.rawName} needs a value: ${t.rawName} ${placeholder(f)}`);
    if (f.type === "string" && !t.inlineValue && t.value && t.value.length > 1 && t.value.startsWith("-")) {
      throw usageError(cmd, `${t.rawName} needs a value, and ${JSON.stringify(t.value)} looks like a flag (write ${t.rawName}=${t.value} if it is the value)`);
    }
  }
  const v = values as Values;
  if (v.help) return { values: v, positionals, help: true };
  checkPositionals(cmd, positionals);
  for (const [name, f] of Object.entries(flags)) {
    const given = v[name];
    if (f.required && given === undefined) throw usageError(cmd, `give --${name} ${placeholder(f)}${f.about ? ` (${f.about.split("\n")[0]})` : ""}`);
    if (!f.choices) continue;
    for (const x of Array.isArray(given) ? given : given === undefined ? [] : [given]) {
      if (!f.choices.includes(String(x))) throw usageError(cmd, `--${name} must be ${orList(f.choices)}, not ${JSON.stringify(x)}`);
    }
  }
  if (v.output === "json") v.json = true;
  else if (v.output !== undefined && v.json) throw usageError(cmd, `--json and -o ${String(v.output)} ask for different output; give one`);
  return { values: v, positionals, help: false };
}

function checkPositionals(cmd: Command, positionals: string[]): void {
  const last = cmd.args[cmd.args.length - 1];
  const max = last?.variadic ? Infinity : cmd.args.length;
  const extra = positionals[max === Infinity ? positionals.length : max];
  if (extra !== undefined) {
    const takes = cmd.args.length === 0 ? "takes no arguments" : `takes ${cmd.args.map((a) => (a.optional ? `[${a.name}]` : a.name)).join(" ")}`;
    throw usageError(cmd, `unexpected argument ${JSON.stringify(extra)}: tether ${cmd.name} ${takes}`, { problem: { word: extra, suggestions: [] } });
  }
  for (const [i, a] of cmd.args.entries()) {
    const given = a.variadic ? positionals.slice(i) : positionals.slice(i, i + 1);
    if (given.length === 0 && !a.optional) throw usageError(cmd, `missing ${a.name}: give ${a.about}`);
    for (const x of a.choices ? given : []) {
      if (a.choices?.includes(x)) continue;
      const near = nearest(x, a.choices ?? []);
      throw usageError(cmd, `${a.name} must be ${orList(a.choices ?? [])}, not ${JSON.stringify(x)}${didYouMean(near)}`, { problem: { word: x, suggestions: near } });
    }
  }
}

/*
 * Terminal safety. Much of what the CLI prints came from outside: names, platforms and job
 * results from nodes, selectors and session ids of strangers' refused handshakes, status
 * details. Before a terminal sees it, every control character in it is shown as an escape by
 * `visible()` (docs/operations.md, "Outside text on the terminal"), at these chokepoints:
 * `emit` (every human result), `table` and `tty` (each value on one line), and the error
 * printer in main.ts. JSON output is `visibleJson`: the same values, exactly, inert.
 */

/** Human text with its layout (newlines, tabs) kept and every other control character shown as an escape. */
export function inert(text: string): string {
  return text.replace(/[^\n\t]+/g, (run) => visible(run));
}

/**
 * A template for human output whose interpolated values go through `visible()`: the
 * template's own text (its newlines and spacing) is kept, and a value can neither move the
 * cursor nor start a line of its own. tty`  name: ${d.name}\n`
 */
export function tty(strings: TemplateStringsArray, ...values: unknown[]): string {
  return strings.reduce((out, s, i) => out + visible(String(values[i - 1])) + s);
}

/** Print a result: JSON when --json, else the human text, with any control character made visible. */
export function emit(io: Io, json: boolean, value: unknown, human: () => string): void {
  io.out(json ? `${visibleJson(value, 2)}\n` : inert(human()));
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The data directory the daemon uses: --data-dir, else $TETHER_HOME, else ~/.tether */
export async function dataDirOf(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<string> {
  const dir = str(values["data-dir"]);
  return dir ? resolve(dir) : defaultDataDir(env);
}

/** A word for a POSIX shell: as is when it is plainly safe, else in single quotes. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Whether an executable named `name` is in one of $PATH's directories. */
function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? "").split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, name), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * How a user runs this CLI from a shell, for the commands it prints (`tether pair code`'s join
 * command, `tether node pair`'s approval hint): `tether` when a `tether` is on $PATH; `npx
 * tether` when this CLI runs from an installed package (under node_modules, not on $PATH);
 * else the command that works from this checkout, `node /abs/path/bin/tether`.
 */
export function selfCommand(env: NodeJS.ProcessEnv): string {
  if (onPath("tether", env)) return "tether";
  let real: string;
  try {
    real = realpathSync(join(packageRoot(), "bin", "tether"));
  } catch {
    return "tether"; // no bin/tether in the package: assume an installed tether
  }
  if (real.split(sep).includes("node_modules")) return "npx tether";
  return `${onPath("node", env) ? "node" : shellWord(process.execPath)} ${shellWord(real)}`;
}

type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
type AnyClient = Client &
  Record<string, Unary> & {
    WatchJob?: (req: unknown) => NodeJS.ReadableStream & { cancel(): void };
    /** a device's client: the renewal the daemon asked for, if one is running (fleet.md §5A.4) */
    renewal?: () => Promise<unknown>;
  };

/**
 * Close a client; a device's client first finishes a renewal that the daemon's answers asked
 * for (a failure there leaves the rotation pending, and the next use asks again).
 */
async function finish(client: AnyClient): Promise<void> {
  try {
    await client.renewal?.().catch(() => undefined);
  } finally {
    client.close();
  }
}

/** Where a command reaches the daemon: its admin socket, or (orchestrators) mutual TLS. */
export type Target = { kind: "socket"; dataDir: string } | { kind: "device"; stateDir: string; daemon?: string };

/** Orchestrator commands: act as the orchestrator device paired in DIR, over mutual TLS. */
export const STATE_DIR_OPTION: Flags = {
  "state-dir": { type: "string", value: "DIR", about: "act as the orchestrator device paired in DIR (mutual TLS)", default: "the local admin socket", complete: "dirs" },
  daemon: { type: "string", value: "HOST:PORT", about: "with --state-dir: the daemon's address", default: "the address in DIR/node.json" },
};

/** --state-dir selects an orchestrator identity over mutual TLS; otherwise the local admin socket. */
export async function targetOf(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<Target> {
  const stateDir = str(values["state-dir"]);
  if (stateDir) return { kind: "device", stateDir: resolve(stateDir), ...(str(values.daemon) ? { daemon: str(values.daemon) as string } : {}) };
  return { kind: "socket", dataDir: await dataDirOf(values, env) };
}

async function open(service: "Admin" | "Orchestrator", target: Target): Promise<{ client: AnyClient; where: string }> {
  if (target.kind === "device") {
    if (service !== "Orchestrator") throw new CliError(Exit.Usage, "only orchestrator commands can use --state-dir");
    const { orchestrator, renewIfDue, NodeError } = await import("@tether/node");
    try {
      // A device that only makes calls renews when it is used (past half its lifetime), and
      // when an answer asks it to (an admin's rotation: finish() waits for that renewal). If
      // this fails, the call below reports the state of the certificate.
      await renewIfDue(target.stateDir, target.daemon ? { daemon: target.daemon } : {}).catch(() => undefined);
      return { client: orchestrator(target.stateDir, target.daemon) as unknown as AnyClient, where: `the daemon (as the device in ${target.stateDir})` };
    } catch (err) {
      if (err instanceof NodeError) throw new CliError(Exit.Usage, err.message, { cause: err });
      throw err;
    }
  }
  const { credentials, loadPackageDefinition } = await grpcJs();
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as {
    tether: { v1: Record<string, new (a: string, c: ReturnType<typeof credentials.createInsecure>, o: object) => AnyClient> };
  };
  const socket = join(target.dataDir, ADMIN_SOCKET_NAME);
  const Ctor = pkg.tether.v1[service] as new (a: string, c: ReturnType<typeof credentials.createInsecure>, o: object) => AnyClient;
  return {
    client: new Ctor(`unix://${socket}`, credentials.createInsecure(), { "grpc.max_receive_message_length": MAX_ADMIN_MESSAGE_BYTES }),
    where: `the daemon's admin socket ${socket}: is \`tether daemon\` running with this --data-dir?`,
  };
}

/** Call one unary RPC of the Admin or Orchestrator service. */
export async function rpc<Res>(service: "Admin" | "Orchestrator", target: Target, method: string, req: object, timeoutMs = 30_000): Promise<Res> {
  const { client, where } = await open(service, target);
  const { Metadata } = await grpcJs();
  try {
    return await new Promise<Res>((resolve, reject) => {
      const fn = client[method] as Unary;
      fn.call(client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res as Res)));
    });
  } catch (err) {
    throw await callError(err as ServiceError, target, where);
  } finally {
    await finish(client);
  }
}

/**
 * A failed call as a CliError. A device whose certificate the daemon refuses for good is told
 * why and what works, as `tether node run` tells it (@tether/node's refusedForGood).
 */
async function callError(err: ServiceError, target: Target, where: string): Promise<CliError> {
  const { status } = await grpcJs();
  if (target.kind === "device" && err.code === status.UNAUTHENTICATED) {
    const { loadCredentials, refusedForGood } = await import("@tether/node");
    try {
      const c = loadCredentials(target.stateDir);
      const e = refusedForGood({ code: err.code, details: err.details ?? "", deviceId: c.state.deviceId, certPem: c.certPem });
      return new CliError(Exit.AuthFailed, e.message, { cause: err });
    } catch {
      // unreadable state: the daemon's words below
    }
  }
  return adminError(err, where, status);
}

/** Follow WatchJob until the job reaches a final state; returns the last job message. */
export async function watchJob<Job extends { state: string }>(target: Target, id: string, onUpdate: (j: Job) => void): Promise<Job> {
  const { client, where } = await open("Orchestrator", target);
  try {
    return await new Promise<Job>((resolve, reject) => {
      const s = (client.WatchJob as (req: unknown) => NodeJS.ReadableStream).call(client, { id });
      let last: Job | undefined;
      s.on("data", (j: Job) => {
        last = j;
        onUpdate(j);
      });
      // callError is async (it may read the device's state): an "end" after the error must not win.
      let failed = false;
      s.on("error", (err: ServiceError) => {
        failed = true;
        void callError(err, target, where).then(reject);
      });
      s.on("end", () => {
        if (failed) return;
        if (last) resolve(last);
        else reject(new CliError(Exit.Failure, "the job stream ended without a state"));
      });
    });
  } finally {
    await finish(client);
  }
}

/** Call one Admin RPC over the Unix socket in `dataDir`. */
export function admin<Res>(dataDir: string, method: string, req: object): Promise<Res> {
  return rpc<Res>("Admin", { kind: "socket", dataDir }, method, req);
}

function adminError(err: ServiceError, where: string, status: Grpc["status"]): CliError {
  const detail = err.details || err.message;
  // The daemon answered, but its store has failed (it refuses every call until restarted), or
  // a record the call needs is damaged.
  if (err.code === status.DATA_LOSS || (err.code === status.UNAVAILABLE && detail.startsWith("STORE_FAILED"))) {
    return new CliError(Exit.Store, detail, { cause: err });
  }
  switch (err.code) {
    case status.UNAVAILABLE:
      // The daemon (or a replica, for the active behind it) answered with a reason of its own
      // ("STORE_UNAVAILABLE: ...", "NO_ACTIVE_DAEMON: ..."): say it, rather than "cannot reach".
      if (/^[A-Z][A-Z_]+: /.test(detail)) return new CliError(Exit.Unreachable, `${where} answered: ${detail}`, { cause: err });
      return new CliError(Exit.Unreachable, `cannot reach ${where}`, { cause: err });
    case status.DEADLINE_EXCEEDED:
      return new CliError(Exit.Unreachable, `cannot reach ${where}`, { cause: err });
    case status.RESOURCE_EXHAUSTED:
      return new CliError(Exit.Busy, detail, { cause: err });
    case status.PERMISSION_DENIED:
    case status.UNAUTHENTICATED:
      return new CliError(Exit.AuthFailed, detail, { cause: err });
    case status.NOT_FOUND:
      return new CliError(Exit.NotFound, detail, { cause: err });
    case status.FAILED_PRECONDITION:
    case status.ALREADY_EXISTS:
      return new CliError(Exit.Conflict, detail, { cause: err });
    case status.INVALID_ARGUMENT:
      return new CliError(Exit.Usage, detail, { cause: err });
    default:
      return new CliError(Exit.Failure, `${status[err.code] ?? err.code}: ${detail}`, { cause: err });
  }
}

/** A table with left-aligned columns for human output; each cell is shown with `visible()`, on one line. */
export function table(headers: string[], cells: string[][]): string {
  const rows = cells.map((r) => r.map((c) => visible(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

export function isoTime(ms: number): string {
  return ms ? new Date(ms).toISOString() : "-";
}
