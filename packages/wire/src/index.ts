/**
 * @tether/wire: the gRPC contract. Loads proto/tether/v1/*.proto once and gives the
 * TypeScript shapes of the messages (as @grpc/proto-loader decodes them), the message size
 * limits, and nothing else. It does not import @grpc/grpc-js.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { PackageDefinition } from "@grpc/proto-loader";

/** The name in the package.json of tether's root package (the checkout, or the installed package). */
const ROOT_PACKAGE_NAME = "tether";

/**
 * The directory of the tether package this module was loaded from: the checkout's root (this
 * file at packages/wire/src/) or the installed package's (bundled into dist/). Found by
 * walking up to the first package.json named "tether", so that it does not depend on where
 * the bundler put this code.
 * @throws Error when no such directory is above this module (a broken install)
 */
export function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === ROOT_PACKAGE_NAME) return dir;
      } catch {
        // not ours (unreadable or not JSON): keep walking up
      }
    }
    if (dirname(dir) === dir) throw new Error(`no package.json named ${JSON.stringify(ROOT_PACKAGE_NAME)} above ${start}: a broken install of tether`);
  }
}

/** proto/ of the tether package: the .proto files are shipped beside the code, not embedded. */
export const PROTO_DIR = join(packageRoot(), "proto");

/**
 * Largest message either side accepts on the node listener: a job's input or output (at most
 * 1 MiB each) plus framing. Pairing messages are far smaller and checked field by field.
 */
export const MAX_NODE_MESSAGE_BYTES = 2 * 1024 * 1024;
/** Largest message on the admin socket (device lists can be long). */
export const MAX_ADMIN_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The protobuf package of the gRPC API: a breaking change is a new package (tether.v2). */
export const API_PACKAGE = "tether.v1";

/** The admin socket's file name inside the daemon's data directory. */
export const ADMIN_SOCKET_NAME = "admin.sock";
/**
 * Response header (initial metadata) the daemon adds to the calls of a device whose rotation
 * an admin asked for: renew now (docs/fleet.md §5A.4). Its value is a reason for humans.
 */
export const RENEW_NOW_HEADER = "tether-renew-now";

/** Environment variable naming the daemon's data directory. */
export const DATA_DIR_ENV = "TETHER_HOME";

/** $TETHER_HOME, else ~/.tether: where the daemon keeps its state and its admin socket. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env[DATA_DIR_ENV] || join(homedir(), ".tether"));
}

const LOAD_OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

let cached: PackageDefinition | undefined;
/**
 * The package definition for tether.v1 (all services). @grpc/proto-loader (and protobufjs
 * under it) is loaded on the first call, not when this module is imported: the CLI imports
 * this module for its constants, and `tether --version` must not pay for the protobuf parser.
 */
export function tetherPackageDefinition(): PackageDefinition {
  if (cached) return cached;
  const { loadSync } = createRequire(import.meta.url)("@grpc/proto-loader") as typeof import("@grpc/proto-loader");
  cached = loadSync(["tether/v1/pairing.proto", "tether/v1/node.proto", "tether/v1/admin.proto", "tether/v1/orchestrator.proto", "tether/v1/peer.proto"], LOAD_OPTIONS);
  return cached;
}

export type {
  AwaitRequest,
  AwaitResponse,
  CreateCodeRequest,
  CreateCodeResponse,
  Device,
  FinishRequest,
  FinishResponse,
  Job,
  JobScope,
  NodeInfo,
  PairRequest,
  RenewRequest,
  RenewResponse,
  RevealRequest,
  RevealResponse,
  StartRequest,
  StartResponse,
  StatusResponse,
} from "./messages.js";
