/**
 * The CLI's shared machinery: argument parsing with help, output in human or --json form,
 * exit codes, and the admin client over the daemon's Unix socket. Commands live one a file
 * under commands/.
 */
import { accessSync, constants as fsConstants, realpathSync } from "node:fs";
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { delimiter, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Metadata, credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { visible, visibleJson } from "@tether/base";
import { ADMIN_SOCKET_NAME, MAX_ADMIN_MESSAGE_BYTES, defaultDataDir, tetherPackageDefinition } from "@tether/wire";

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

export class CliError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

export type Io = { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv };

export type Options = NonNullable<ParseArgsConfig["options"]>;

export type Command = {
  /** e.g. "pair approve" */
  name: string;
  summary: string;
  usage: string;
  /** Teaching text: what it does, what to do next, an example. */
  help: string;
  options: Options;
  run(args: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[]; io: Io }): Promise<number>;
};

export const COMMON_OPTIONS: Options = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

export const DATA_DIR_OPTION: Options = { "data-dir": { type: "string" } };

export function parse(cmd: Command, argv: string[]) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...cmd.options }, allowPositionals: true, strict: true });
  } catch (cause) {
    throw new CliError(Exit.Usage, `${(cause as Error).message}\nusage: ${cmd.usage}\n(see: tether ${cmd.name} --help)`, { cause });
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
  const bin = fileURLToPath(new URL("../../../bin/tether", import.meta.url));
  let real = bin;
  try {
    real = realpathSync(bin);
  } catch {
    return "tether"; // not laid out as a checkout: assume an installed tether
  }
  if (real.split(sep).includes("node_modules")) return "npx tether";
  return `${onPath("node", env) ? "node" : shellWord(process.execPath)} ${shellWord(real)}`;
}

type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
type AnyClient = Client & Record<string, Unary> & { WatchJob?: (req: unknown) => NodeJS.ReadableStream & { cancel(): void } };

/** Where a command reaches the daemon: its admin socket, or (orchestrators) mutual TLS. */
export type Target = { kind: "socket"; dataDir: string } | { kind: "device"; stateDir: string; daemon?: string };

export const STATE_DIR_OPTION: Options = { "state-dir": { type: "string" }, daemon: { type: "string" } };

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
      // A device that only makes calls renews when it is used (past half its lifetime). If that
      // fails, the call below reports the state of the certificate.
      await renewIfDue(target.stateDir, target.daemon ? { daemon: target.daemon } : {}).catch(() => undefined);
      return { client: orchestrator(target.stateDir, target.daemon) as unknown as AnyClient, where: `the daemon (as the device in ${target.stateDir})` };
    } catch (err) {
      if (err instanceof NodeError) throw new CliError(Exit.Usage, err.message, { cause: err });
      throw err;
    }
  }
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
  try {
    return await new Promise<Res>((resolve, reject) => {
      const fn = client[method] as Unary;
      fn.call(client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res as Res)));
    });
  } catch (err) {
    throw await callError(err as ServiceError, target, where);
  } finally {
    client.close();
  }
}

/**
 * A failed call as a CliError. A device whose certificate the daemon refuses for good is told
 * why and what works, as `tether node run` tells it (@tether/node's refusedForGood).
 */
async function callError(err: ServiceError, target: Target, where: string): Promise<CliError> {
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
  return adminError(err, where);
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
    client.close();
  }
}

/** Call one Admin RPC over the Unix socket in `dataDir`. */
export function admin<Res>(dataDir: string, method: string, req: object): Promise<Res> {
  return rpc<Res>("Admin", { kind: "socket", dataDir }, method, req);
}

function adminError(err: ServiceError, where: string): CliError {
  const detail = err.details || err.message;
  // The daemon answered, but its store has failed (it refuses every call until restarted), or
  // a record the call needs is damaged.
  if (err.code === status.DATA_LOSS || (err.code === status.UNAVAILABLE && detail.startsWith("STORE_FAILED"))) {
    return new CliError(Exit.Store, detail, { cause: err });
  }
  switch (err.code) {
    case status.UNAVAILABLE:
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
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

export function isoTime(ms: number): string {
  return ms ? new Date(ms).toISOString() : "-";
}
