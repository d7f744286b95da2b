/**
 * The baseline server, run as its own process (forked by the benchmarks, with IPC): bare
 * grpc-js over mutual TLS (client certificates required and verified by TLS against the same
 * CA), the same server options as the daemon's listener (keepalive, message size), and no
 * persistence and no checks. It serves bench/relay.proto:
 *
 * - Serve: a node's stream. It answers the first message with "registered", pings with
 *   "pong", and routes echoes back to the Call waiting for them.
 * - Call: relays one message to the named node's stream and answers with the node's echo.
 *
 * - Kick: ends the named node's stream with PERMISSION_DENIED, then answers (also served on a
 *   Unix socket without TLS when SOCKET is given, as tether's Admin service is).
 *
 * IPC: {type:"push"} writes one message on every registered stream; {type:"count"} answers the
 * number of registered streams. Prints {"event":"ready","port":N} and sends {type:"ready"}.
 * Usage: baseline-server.ts CA_PEM_FILE CERT_PEM_FILE KEY_PEM_FILE [PORT|0] [SOCKET]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Server, ServerCredentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import type { ServerDuplexStream, ServerUnaryCall, ServiceDefinition, sendUnaryData } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

type M = { id: string; body: Buffer; to: string };

const [caFile, certFile, keyFile, portArg, socketPath] = process.argv.slice(2) as [string, string, string, string | undefined, string | undefined];
const def = loadSync(fileURLToPath(new URL("./relay.proto", import.meta.url)), { longs: Number, defaults: true });
const pkg = loadPackageDefinition(def) as unknown as { bench: { Relay: { service: ServiceDefinition } } };

const server = new Server({
  // as the daemon's listener (packages/daemon/src/daemon.ts)
  "grpc.max_receive_message_length": 2 * 1024 * 1024,
  "grpc.max_send_message_length": 2 * 1024 * 1024,
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_ping_interval_without_data_ms": 5_000,
});

const nodes = new Map<string, ServerDuplexStream<M, M>>();
const waiting = new Map<string, (body: Buffer) => void>();
let seq = 0;
const PUSH = Buffer.from(JSON.stringify({ payload: "x".repeat(200) }));

const handlers = {
  Call: (call: ServerUnaryCall<M, M>, cb: sendUnaryData<M>) => {
    const s = nodes.get(call.request.to);
    if (!s) return cb({ code: status.NOT_FOUND, details: `no node ${call.request.to}` });
    const id = String(++seq);
    waiting.set(id, (body) => cb(null, { id, body, to: "" }));
    s.write({ id, body: call.request.body, to: "" });
  },
  Serve: (s: ServerDuplexStream<M, M>) => {
    let name = "";
    const drop = () => {
      if (name && nodes.get(name) === s) nodes.delete(name);
    };
    s.on("data", (m: M) => {
      if (!name) {
        name = m.to || String(++seq);
        nodes.set(name, s);
        s.write({ id: "registered", body: Buffer.alloc(0), to: "" });
        return;
      }
      if (m.id === "ping") {
        s.write({ id: "pong", body: m.body, to: "" });
        return;
      }
      const w = waiting.get(m.id);
      if (w) {
        waiting.delete(m.id);
        w(m.body);
      }
    });
    s.on("end", () => {
      drop();
      s.end();
    });
    s.on("error", drop);
    s.on("cancelled", drop);
  },
  Kick: (call: ServerUnaryCall<M, M>, cb: sendUnaryData<M>) => {
    const s = nodes.get(call.request.to);
    if (!s) return cb({ code: status.NOT_FOUND, details: `no node ${call.request.to}` });
    nodes.delete(call.request.to);
    s.emit("error", { code: status.PERMISSION_DENIED, details: `node ${call.request.to} was kicked` });
    cb(null, { id: "kicked", body: Buffer.alloc(0), to: call.request.to });
  },
};
server.addService(pkg.bench.Relay.service, handlers);

const creds = ServerCredentials.createSsl(
  readFileSync(caFile),
  [{ cert_chain: readFileSync(certFile), private_key: readFileSync(keyFile) }],
  true, // client certificates required and verified
);
const port = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${portArg ?? 0}`, creds, (err, p) => (err ? reject(err) : resolve(p))));

let local: Server | undefined;
if (socketPath) {
  local = new Server();
  local.addService(pkg.bench.Relay.service, handlers);
  await new Promise<number>((resolve, reject) =>
    (local as Server).bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
}

process.on("message", (raw) => {
  const m = raw as { type: string };
  if (m.type === "push") {
    let n = 0;
    for (const s of nodes.values()) {
      s.write({ id: "push", body: PUSH, to: "" });
      n++;
    }
    process.send?.({ type: "pushed", n });
  } else if (m.type === "count") {
    process.send?.({ type: "count", n: nodes.size });
  }
});
process.on("SIGTERM", () => {
  // the server closes first, so TIME-WAIT stays on its side (not on the clients' ephemeral ports)
  server.forceShutdown();
  local?.forceShutdown();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify({ event: "ready", port })}\n`);
process.send?.({ type: "ready", port });
// the bench process went away: do not linger
process.on("disconnect", () => process.exit(0));
