/**
 * @tether/wire: the gRPC contract. Loads proto/tether/v1/*.proto once and gives the
 * TypeScript shapes of the messages (generated from the protos, as @grpc/proto-loader
 * decodes them: messages.ts), the message size limits, and nothing else. It does not
 * import @grpc/grpc-js.
 */
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { PackageDefinition } from "@grpc/proto-loader";
import { LOAD_OPTIONS, PROTO_DIR, PROTO_FILES } from "./protos.js";

export { PROTO_DIR, packageRoot, packageVersion } from "./protos.js";

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

/**
 * Response header of a health Check on the admin socket (never on the listener): why the
 * daemon is not serving, for `tether health`. The standard answer carries only a status.
 */
export const HEALTH_REASON_HEADER = "tether-health-reason";

/** Environment variable naming the daemon's data directory. */
export const DATA_DIR_ENV = "TETHER_HOME";

/** $TETHER_HOME, else ~/.tether: where the daemon keeps its state and its admin socket. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env[DATA_DIR_ENV] || join(homedir(), ".tether"));
}

/** @grpc/proto-loader, required on first use (see tetherPackageDefinition). */
function protoLoader(): typeof import("@grpc/proto-loader") {
  return createRequire(import.meta.url)("@grpc/proto-loader") as typeof import("@grpc/proto-loader");
}

let cached: PackageDefinition | undefined;
/**
 * The package definition for tether.v1 (all services). Decodes messages into the shapes of
 * messages.ts, which are generated with the same LOAD_OPTIONS (`npm run gen`).
 * @grpc/proto-loader (and protobufjs under it) is loaded on the first call, not when this
 * module is imported: the CLI imports this module for its constants, and `tether --version`
 * must not pay for the protobuf parser.
 */
export function tetherPackageDefinition(): PackageDefinition {
  cached ??= protoLoader().loadSync([...PROTO_FILES], { ...LOAD_OPTIONS, includeDirs: [PROTO_DIR] });
  return cached;
}

let listenerCached: PackageDefinition | undefined;
/**
 * The services of the node listener only (Pairing, Node, Orchestrator), for its reflection:
 * admin.proto is not loaded, so nothing of the Admin service can be described from it.
 */
export function listenerPackageDefinition(): PackageDefinition {
  listenerCached ??= protoLoader().loadSync(["tether/v1/pairing.proto", "tether/v1/node.proto", "tether/v1/orchestrator.proto"], { ...LOAD_OPTIONS, includeDirs: [PROTO_DIR] });
  return listenerCached;
}

export type {
  AwaitRequest,
  AwaitResponse,
  AwaitResponseInit,
  CreateCodeRequest,
  CreateCodeResponse,
  DaemonMessage,
  DaemonMessageInit,
  Device,
  FinishRequest,
  FinishResponse,
  Job,
  JobScope,
  NodeInfo,
  NodeMessage,
  NodeMessageInit,
  PairRequest,
  RenewRequest,
  RenewRequestInit,
  RenewResponse,
  RenewResponseInit,
  ReturnRequest,
  ReturnRequestInit,
  ReturnResponse,
  ReturnResponseInit,
  RevealRequest,
  RevealResponse,
  RevealResponseInit,
  StartRequest,
  StartResponse,
  StartResponseInit,
  StatusResponse,
} from "./messages.js";
