/**
 * gRPC clients the bench process itself uses: the Admin and Orchestrator services on a
 * daemon's admin socket, the Orchestrator over mutual TLS as an orchestrator device, and the
 * baseline relay's caller. Each is one long-lived channel (as a real orchestrator keeps).
 */
import { fileURLToPath } from "node:url";
import { Metadata, credentials, loadPackageDefinition } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { MAX_ADMIN_MESSAGE_BYTES, tetherPackageDefinition } from "@tether/wire";
import type { DeviceCreds } from "./seed.ts";

type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
type AnyClient = Client & Record<string, Unary> & { WatchJob(req: unknown): NodeJS.ReadableStream & { cancel(): void } };
type Ctor = new (a: string, c: ReturnType<typeof credentials.createInsecure>, o: object) => AnyClient;

const v1 = () => (loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: Record<string, Ctor> } }).tether.v1;

export type Rpc = {
  client: AnyClient;
  call<T>(method: string, req: object, timeoutMs?: number): Promise<T>;
  close(): void;
};

function rpc(client: AnyClient): Rpc {
  return {
    client,
    call: <T>(method: string, req: object, timeoutMs = 60_000) =>
      new Promise<T>((resolve, reject) => {
        (client[method] as Unary).call(client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r as T)));
      }),
    close: () => client.close(),
  };
}

/** Admin (or the local Orchestrator) on `<dataDir>/admin.sock`. */
export function adminClient(adminSocket: string, service: "Admin" | "Orchestrator" = "Admin"): Rpc {
  const Ctor = v1()[service] as Ctor;
  return rpc(new Ctor(`unix://${adminSocket}`, credentials.createInsecure(), { "grpc.max_receive_message_length": MAX_ADMIN_MESSAGE_BYTES }));
}

const TLS_OPTIONS = {
  "grpc.max_receive_message_length": 2 * 1024 * 1024,
  "grpc.max_send_message_length": 2 * 1024 * 1024,
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.ssl_target_name_override": "localhost",
};

function tls(caPem: string, c: DeviceCreds) {
  return credentials.createSsl(Buffer.from(caPem), Buffer.from(c.keyPem), Buffer.from(c.certPem), { checkServerIdentity: () => undefined });
}

/** The Orchestrator service over mutual TLS as an orchestrator device (as packages/node/src/orchestrator.ts). */
export function orchestratorClient(address: string, caPem: string, c: DeviceCreds): Rpc {
  const Ctor = v1().Orchestrator as Ctor;
  return rpc(new Ctor(address, tls(caPem, c) as never, TLS_OPTIONS));
}

/** The baseline server's Relay service on its Unix socket (for Kick). */
export function relaySocketClient(socket: string): Rpc {
  const def = loadSync(fileURLToPath(new URL("./relay.proto", import.meta.url)), { longs: Number, defaults: true });
  const Ctor = (loadPackageDefinition(def) as unknown as { bench: { Relay: Ctor } }).bench.Relay;
  return rpc(new Ctor(`unix://${socket}`, credentials.createInsecure(), {}));
}

/** The baseline relay's Call over mutual TLS with the same certificate. */
export function relayClient(address: string, caPem: string, c: DeviceCreds): Rpc {
  const def = loadSync(fileURLToPath(new URL("./relay.proto", import.meta.url)), { longs: Number, defaults: true });
  const Ctor = (loadPackageDefinition(def) as unknown as { bench: { Relay: Ctor } }).bench.Relay;
  return rpc(new Ctor(address, tls(caPem, c) as never, TLS_OPTIONS));
}
