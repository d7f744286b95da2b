/**
 * The CLI's shared machinery: argument parsing with help, output in human or --json form,
 * exit codes, and the admin client over the daemon's Unix socket. Commands live one a file
 * under commands/.
 */
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { join, resolve } from "node:path";
import { Metadata, credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
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

/** Print a result: JSON when --json, else the human text. */
export function emit(io: Io, json: boolean, value: unknown, human: () => string): void {
  io.out(json ? `${JSON.stringify(value, null, 2)}\n` : human());
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The data directory the daemon uses: --data-dir, else $TETHER_HOME, else ~/.tether */
export async function dataDirOf(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<string> {
  const dir = str(values["data-dir"]);
  return dir ? resolve(dir) : defaultDataDir(env);
}

type AdminClient = Client & Record<string, (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void>;

/** Call one Admin RPC over the Unix socket in `dataDir`. */
export async function admin<Res>(dataDir: string, method: string, req: object): Promise<Res> {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as {
    tether: { v1: { Admin: new (a: string, c: ReturnType<typeof credentials.createInsecure>, o: object) => AdminClient } };
  };
  const socket = join(dataDir, ADMIN_SOCKET_NAME);
  const client = new pkg.tether.v1.Admin(`unix://${socket}`, credentials.createInsecure(), {
    "grpc.max_receive_message_length": MAX_ADMIN_MESSAGE_BYTES,
  });
  try {
    return await new Promise<Res>((resolve, reject) => {
      const fn = client[method] as AdminClient[string];
      fn.call(client, req, new Metadata(), { deadline: Date.now() + 30_000 }, (err, res) => (err ? reject(err) : resolve(res as Res)));
    });
  } catch (err) {
    throw adminError(err as ServiceError, socket);
  } finally {
    client.close();
  }
}

function adminError(err: ServiceError, socket: string): CliError {
  const detail = err.details || err.message;
  switch (err.code) {
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
      return new CliError(Exit.Unreachable, `cannot reach the daemon's admin socket ${socket}: is \`tether daemon\` running with this --data-dir?`, { cause: err });
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

/** A table with left-aligned columns for human output. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

export function isoTime(ms: number): string {
  return ms ? new Date(ms).toISOString() : "-";
}
