/**
 * npm run bench -- dispatch: job round trip and throughput through one node, tether against a
 * bare grpc-js relay doing the same two hops over mutual TLS in the same run; and the time
 * from a revocation's answer to the revoked node's stream ending.
 */
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Metadata, Server, ServerCredentials, credentials, loadPackageDefinition } from "@grpc/grpc-js";
import type { Client, ServerDuplexStream, ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { connect, orchestrator } from "@tether/node";
import type { NodeConnection } from "@tether/node";
import type { Job } from "@tether/wire";
import { admin, pairDevice, startTestDaemon, tempDir } from "../test/helpers.ts";

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 300);
const TOTAL = Number(process.env.BENCH_TOTAL ?? 2000);
const IN_FLIGHT = 64;
const REVOKE_NODES = Number(process.env.BENCH_REVOKE ?? 20);
const INPUT = Buffer.from(JSON.stringify({ payload: "x".repeat(200) }));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

async function measure(label: string, one: () => Promise<void>) {
  for (let i = 0; i < 20; i++) await one(); // warm up
  const lat: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t = performance.now();
    await one();
    lat.push(performance.now() - t);
  }
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < TOTAL) await one();
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const r = { label, p50: pct(lat, 50), p99: pct(lat, 99), perSecond: TOTAL / secs };
  console.log(`${label.padEnd(22)} p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${r.perSecond.toFixed(0)} jobs/s at ${IN_FLIGHT} in flight`);
  return r;
}

async function tether(tmp: string) {
  const d = await startTestDaemon({ dataDir: `${tmp}/data` });
  const id = await pairDevice(d, `${tmp}/node`, { name: "bench" });
  const node: NodeConnection = connect(`${tmp}/node`, { maxConcurrency: 64 });
  node.handle("echo", (x) => x);
  await node.start();
  // A real orchestrator: a paired device with one long-lived mutual-TLS channel.
  await pairDevice(d, `${tmp}/orch`, { name: "bench-orch", role: "orchestrator" });
  const o = orchestrator(`${tmp}/orch`);
  const one = () =>
    new Promise<void>((resolve, reject) => {
      o.Dispatch({ deviceId: id, capability: "echo", input: INPUT, timeoutMs: 60_000, idempotencyKey: "" }, new Metadata(), {}, (e, j) => {
        if (e) return reject(e);
        const w = o.WatchJob({ id: (j as Job).id });
        let last = "";
        w.on("data", (x: Job) => (last = x.state));
        w.on("error", reject);
        w.on("end", () => (last === "succeeded" ? resolve() : reject(new Error(`job ${last}`))));
      });
    });
  const r = await measure("tether (mTLS)", one);
  o.close();
  await node.close();
  return { r, d };
}

async function revocation(d: Awaited<ReturnType<typeof startTestDaemon>>, tmp: string) {
  const nodes: { id: string; conn: NodeConnection }[] = [];
  for (let i = 0; i < REVOKE_NODES; i++) {
    const id = await pairDevice(d, `${tmp}/r${i}`, { name: `r${i}` });
    const conn = connect(`${tmp}/r${i}`);
    conn.handle("noop", () => null);
    await conn.start();
    nodes.push({ id, conn });
  }
  const times: number[] = [];
  let endedBeforeAnswer = 0;
  for (const n of nodes.slice(0, Math.ceil(REVOKE_NODES / 2))) {
    let endedAt = 0;
    const ended = once(n.conn, "fatal").then(() => (endedAt = performance.now()));
    const t0 = performance.now();
    await admin(d, "RevokeDevice", { id: n.id, reason: "bench" });
    const answeredAt = performance.now();
    await ended;
    if (endedAt <= answeredAt) endedBeforeAnswer++;
    times.push(endedAt - t0);
  }
  for (const n of nodes) await n.conn.close();
  console.log(
    `revocation: ${times.length} of ${REVOKE_NODES} connected nodes revoked one by one; revoke sent -> stream ended on the node: p50 ${pct(times, 50).toFixed(2)} ms, p99 ${pct(times, 99).toFixed(2)} ms, max ${Math.max(...times).toFixed(2)} ms; ended before revoke answered: ${endedBeforeAnswer}/${times.length}`,
  );
}

type Relay = Client & {
  Call(m: object, md: Metadata, o: object, cb: (e: ServiceError | null, r: { id: string; body: Buffer }) => void): void;
  Serve(): ServerDuplexStream<object, { id: string; body: Buffer }> & NodeJS.EventEmitter;
};

async function baseline(caPem: string, serverCert: string, serverKey: string, clientCert: string, clientKey: string) {
  const def = loadSync(fileURLToPath(new URL("./relay.proto", import.meta.url)), { longs: Number, defaults: true });
  const pkg = loadPackageDefinition(def) as unknown as { bench: { Relay: (new (a: string, c: unknown, o: object) => Relay) & { service: never } } };
  const server = new Server();
  let nodeStream: ServerDuplexStream<{ id: string; body: Buffer }, { id: string; body: Buffer }> | undefined;
  const waiting = new Map<string, (b: Buffer) => void>();
  let seq = 0;
  server.addService(pkg.bench.Relay.service, {
    Call: (call: { request: { body: Buffer } }, cb: (e: null, r: object) => void) => {
      const id = String(++seq);
      waiting.set(id, (body) => cb(null, { id, body }));
      nodeStream?.write({ id, body: call.request.body });
    },
    Serve: (s: ServerDuplexStream<{ id: string; body: Buffer }, { id: string; body: Buffer }>) => {
      nodeStream = s;
      s.on("data", (m: { id: string; body: Buffer }) => {
        waiting.get(m.id)?.(m.body);
        waiting.delete(m.id);
      });
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync(
      "127.0.0.1:0",
      ServerCredentials.createSsl(Buffer.from(caPem), [{ cert_chain: Buffer.from(serverCert), private_key: Buffer.from(serverKey) }], true),
      (e, p) => (e ? rej(e) : res(p)),
    ),
  );
  const creds = credentials.createSsl(Buffer.from(caPem), Buffer.from(clientKey), Buffer.from(clientCert), { checkServerIdentity: () => undefined });
  const opts = { "grpc.ssl_target_name_override": "localhost" };
  const nodeClient = new pkg.bench.Relay(`127.0.0.1:${port}`, creds, opts);
  const ns = nodeClient.Serve();
  ns.on("error", () => undefined); // ends when the server shuts down
  ns.on("data", (m: { id: string; body: Buffer }) => ns.write({ id: m.id, body: m.body }));
  ns.write({ id: "hello", body: Buffer.alloc(0) });
  await new Promise((r) => setTimeout(r, 200));
  const orch = new pkg.bench.Relay(`127.0.0.1:${port}`, creds, opts);
  const one = () =>
    new Promise<void>((res, rej) => orch.Call({ id: "", body: INPUT }, new Metadata(), {}, (e) => (e ? rej(e) : res())));
  const r = await measure("bare grpc-js relay", one);
  orch.close();
  nodeClient.close();
  server.forceShutdown();
  return r;
}

export async function benchDispatch() {
  const tmp = tempDir("tether-bench-");
  try {
    const { r: t, d } = await tether(tmp.path);
    const { readFileSync } = await import("node:fs");
    const read = (f: string) => readFileSync(f, "utf8");
    const b = await baseline(
      read(`${d.dataDir}/ca/ca.pem`),
      read(`${d.dataDir}/ca/server.pem`),
      read(`${d.dataDir}/ca/server.key`),
      read(`${tmp.path}/node/cert.pem`),
      read(`${tmp.path}/node/tls.key`),
    );
    console.log(
      `ratio tether/baseline: p50 ${(t.p50 / b.p50).toFixed(2)}x, p99 ${(t.p99 / b.p99).toFixed(2)}x, throughput ${((t.perSecond / b.perSecond) * 100).toFixed(0)}% of baseline`,
    );
    await revocation(d, tmp.path);
    await d.stop();
  } finally {
    tmp.remove();
  }
}
