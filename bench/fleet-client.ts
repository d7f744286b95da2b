/**
 * A fleet client process (forked by the benchmarks, with IPC): it holds K node streams, each
 * on its own HTTP/2 session with that device's mTLS credentials, hence its own TCP + TLS
 * connection. It speaks the wire protocol directly (gRPC over node:http2, bench/grpc-raw.ts;
 * docs/fleet.md 2.2: register, registered, job, result, ping), which is far lighter than one
 * SDK object or grpc-js channel per node. In baseline mode it speaks bench/relay.proto to the
 * bare server in the same way.
 *
 * IPC in:
 *   {type:"prepare", caPem, devicesFile}
 *       make every device's TLS context (devices from the JSON file); answers "prepared"
 *   {type:"connect", mode:"tether"|"baseline", address, localAddress?, concurrency, echo, reportEnds, limit?}
 *       open a stream for every device not connected yet (until `limit` are open),
 *       `concurrency` handshakes at a time, from `localAddress` if given; answers
 *       {type:"connected", ok, failed, errors, firstAt, lastAt} (CLOCK_MONOTONIC ms)
 *   {type:"reset"}             close every connection (after the server went away)
 *   {type:"expect", key, n}    answer {type:"got", key, at} once n more pushes arrived
 *   {type:"probe", id}         a *new* connection with device id's credentials: is its first
 *                              call refused? answers {type:"probe-result", id, refused, code, details, ms}
 *   {type:"status"}            answers {type:"status", open, ended, pushes}
 * IPC out, unprompted with reportEnds: {type:"ended", id, code, details, at} when a stream ends.
 * Times are CLOCK_MONOTONIC milliseconds (comparable across processes).
 */
import { readFileSync } from "node:fs";
import { TLSSocket, createSecureContext } from "node:tls";
import type { SecureContext } from "node:tls";
import { fileURLToPath } from "node:url";
import { loadSync } from "@grpc/proto-loader";
import { tetherPackageDefinition } from "@tether/wire";
import type { Codec, RawStream } from "./grpc-raw.ts";
import { openStream } from "./grpc-raw.ts";

type Creds = { id: string; certPem: string; keyPem: string };
type MethodDef = { path: string; requestSerialize(m: object): Buffer; responseDeserialize(b: Buffer): Record<string, unknown> };

/*
 * Node's TLS client turns the server's certificate chain into JS objects on every handshake
 * (getPeerCertificate(true), for checkServerIdentity), which was a fifth of this process's CPU.
 * Here the chain is verified by OpenSSL against the pinned CA (rejectUnauthorized) and the host
 * name is deliberately not checked (as the reference client), so nothing reads that object:
 * skip building it. This only lightens the load generator; the servers are untouched.
 */
(TLSSocket.prototype as unknown as { getPeerCertificate(): object }).getPeerCertificate = function getPeerCertificate() {
  return {};
};

const mono = () => Number(process.hrtime.bigint()) / 1e6;
const send = (m: object) => process.send?.(m);

function codec(m: MethodDef): Codec {
  return { path: m.path, serialize: (x) => m.requestSerialize(x), deserialize: (b) => m.responseDeserialize(b) };
}
const TETHER = codec((tetherPackageDefinition() as unknown as Record<string, Record<string, MethodDef>>)["tether.v1.Node"]?.Connect as MethodDef);
const RELAY = codec(
  (loadSync(fileURLToPath(new URL("./relay.proto", import.meta.url)), { longs: Number, defaults: true }) as unknown as Record<string, Record<string, MethodDef>>)["bench.Relay"]
    ?.Serve as MethodDef,
);

type Conn = { id: string; stream: RawStream; ping?: NodeJS.Timeout; open: boolean };
const conns = new Map<string, Conn>();
let mode: "tether" | "baseline" = "tether";
let address = "";
let localAddress: string | undefined;
let caPem = "";
let echo = false;
let reportEnds = false;
let devices: Creds[] = [];
let pushes = 0;
let ended = 0;
let lastPushAt = 0;
const expectations: { key: string; until: number }[] = [];

/** A device's TLS context: its key and certificate, and the CA as the only trust anchor. */
function context(c: Creds): SecureContext {
  return createSecureContext({ ca: caPem, key: c.keyPem, cert: c.certPem });
}

function register(s: RawStream, id: string): void {
  if (mode === "tether") {
    s.write({
      register: {
        deviceId: id,
        capabilities: [{ name: "echo", description: "", inputSchema: "", outputSchema: "" }],
        platform: "linux-x64",
        version: "bench",
        maxConcurrency: 64,
      },
    });
  } else {
    s.write({ id: "register", to: id, body: Buffer.alloc(0) });
  }
}

function pinged(s: RawStream): void {
  if (mode === "tether") s.write({ ping: { sentAt: Date.now() } });
  else s.write({ id: "ping", body: Buffer.alloc(0), to: "" });
}

function gotPush(): void {
  pushes++;
  lastPushAt = mono();
  for (let i = expectations.length - 1; i >= 0; i--) {
    const e = expectations[i] as { key: string; until: number };
    if (pushes >= e.until) {
      expectations.splice(i, 1);
      send({ type: "got", key: e.key, at: lastPushAt });
    }
  }
}

/**
 * TLS contexts made ahead of the clock: a real node makes its own once, on its own machine, so
 * that work is not part of the server's connect rate.
 */
const prepared = new Map<string, SecureContext>();

/** Open one device's connection and stream; resolves when registered (or rejects with the refusal). */
function open(c: Creds): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const secureContext = prepared.get(c.id) ?? context(c);
    let registered = false;
    let conn: Conn | undefined;
    const t = setTimeout(() => {
      if (!registered) {
        stream.close();
        reject(new Error("no registered within 120 s"));
      }
    }, 120_000);
    const stream = openStream({
      authority: address,
      localAddress,
      secureContext,
      codec: mode === "tether" ? TETHER : RELAY,
      onMessage: (m) => {
        if (!registered) {
          if ((mode === "tether" && m.registered) || (mode === "baseline" && m.id === "registered")) {
            registered = true;
            clearTimeout(t);
            const cn: Conn = (conn = { id: c.id, stream, open: true });
            conns.set(c.id, cn);
            // the node heartbeat (docs/fleet.md 2.6): every 10 s, at a random phase
            const every = 10_000;
            setTimeout(() => {
              if (!cn.open) return;
              pinged(stream);
              cn.ping = setInterval(() => cn.open && pinged(stream), every);
              cn.ping.unref();
            }, Math.random() * every).unref();
            resolve();
          }
          return;
        }
        if (mode === "tether") {
          const job = m.job as { jobId: string; input: Buffer } | undefined;
          if (job) {
            if (echo) stream.write({ result: { jobId: job.jobId, ok: true, output: job.input, error: "" } });
            else gotPush();
          }
        } else if (m.id !== "pong") {
          if (m.id === "push") gotPush();
          else if (echo) stream.write({ id: m.id, body: m.body, to: "" });
        }
      },
      onEnd: (code, details) => {
        const at = mono();
        if (!registered) {
          clearTimeout(t);
          reject(Object.assign(new Error(`${code} ${details}`), { code }));
        } else if (conn?.open) {
          conn.open = false;
          if (conn.ping) clearInterval(conn.ping);
          ended++;
          if (reportEnds) send({ type: "ended", id: c.id, code, details, at });
        }
        stream.close();
      },
    });
    register(stream, c.id);
  });
}

/** Connect every device not connected yet (at most `limit` open in all), `concurrency` at a time. */
async function connectAll(concurrency: number, limit: number): Promise<void> {
  const todo = devices.filter((d) => !conns.get(d.id)?.open).slice(0, Math.max(0, limit - [...conns.values()].filter((c) => c.open).length));
  let next = 0;
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const firstAt = mono();
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      while (next < todo.length) {
        const c = todo[next++] as Creds;
        try {
          await open(c);
          ok++;
        } catch (err) {
          failed++;
          if (errors.length < 5) errors.push(`${c.id}: ${(err as Error).message}`);
        }
      }
    }),
  );
  send({ type: "connected", ok, failed, errors, firstAt, lastAt: mono() });
}

/** A new connection with a device's credentials: is its first call refused? */
async function probe(id: string): Promise<void> {
  const c = devices.find((d) => d.id === id);
  if (!c) {
    send({ type: "probe-result", id, refused: false, code: -1, details: "unknown device" });
    return;
  }
  const t0 = mono();
  const r = await new Promise<{ refused: boolean; code: number; details: string }>((resolve) => {
    let answered = false;
    const s = openStream({
      authority: address,
      localAddress,
      secureContext: context(c),
      codec: mode === "tether" ? TETHER : RELAY,
      onMessage: () => {
        answered = true;
        resolve({ refused: false, code: 0, details: "answered" });
        s.close();
      },
      onEnd: (code, details) => {
        if (!answered) resolve({ refused: code !== 0, code, details });
        s.close();
      },
    });
    register(s, id);
  });
  send({ type: "probe-result", id, ...r, ms: mono() - t0 });
}

process.on("message", (raw) => {
  const m = raw as Record<string, unknown> & { type: string };
  switch (m.type) {
    case "prepare": {
      const t0 = mono();
      caPem = m.caPem as string;
      devices = JSON.parse(readFileSync(m.devicesFile as string, "utf8")) as Creds[];
      prepared.clear();
      for (const d of devices) prepared.set(d.id, context(d));
      send({ type: "prepared", n: devices.length, ms: mono() - t0 });
      break;
    }
    case "connect":
      mode = m.mode as "tether" | "baseline";
      address = m.address as string;
      localAddress = m.localAddress as string | undefined;
      echo = Boolean(m.echo);
      reportEnds = Boolean(m.reportEnds);
      void connectAll(m.concurrency as number, (m.limit as number | undefined) ?? Number.POSITIVE_INFINITY);
      break;
    case "reset":
      for (const c of conns.values()) {
        c.open = false;
        if (c.ping) clearInterval(c.ping);
        c.stream.close();
      }
      conns.clear();
      expectations.length = 0;
      pushes = 0;
      ended = 0;
      send({ type: "reset" });
      break;
    case "expect":
      if ((m.n as number) <= 0) send({ type: "got", key: m.key, at: mono() });
      else expectations.push({ key: m.key as string, until: pushes + (m.n as number) });
      break;
    case "probe":
      void probe(m.id as string);
      break;
    case "status":
      send({ type: "status", open: [...conns.values()].filter((c) => c.open).length, ended, pushes, lastPushAt });
      break;
    default:
      break;
  }
});
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
send({ type: "ready" });
