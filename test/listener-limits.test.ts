/**
 * What a stranger can do to the daemon without a single valid request. TCP connections that
 * never send a ClientHello are closed after the handshake timeout; handshakes in progress are
 * capped per source address and in total, and connections in total stay below the file limit,
 * so that the admin socket (the CLI) and clients from other addresses keep working. Ids of a
 * megabyte in every call that takes one are refused with INVALID_ARGUMENT, never echoed or
 * logged in full.
 */
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { connect as h2connect, constants as h2 } from "node:http2";
import type { IncomingHttpHeaders } from "node:http2";
import { Socket, connect as netConnect } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import type { TLSSocket } from "node:tls";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { createLogger, resolveDaemonConfig, startDaemon } from "@tether/daemon";
import type { RunningDaemon } from "@tether/daemon";
import { connect, loadCredentials } from "@tether/node";
import { rpc } from "../packages/cli/src/cli.ts";
import { BIN, cli, pairDevice, rawNodeStream, startTestDaemon, streamEnd, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

/** `p`, or a rejection after `ms` (a refusal that never arrives must fail the test, not hang it). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

type Limits = { handshakeTimeoutMs?: number; maxConnections?: number; maxHandshakes?: number; maxHandshakesPerAddress?: number };
type Tls = { ca: string; cert?: string; key?: string };

/** A daemon in this process with the given listener limits. */
async function limitedDaemon(dataDir: string, listener: Limits): Promise<RunningDaemon & { logs: string[] }> {
  const logs: string[] = [];
  const d = await startDaemon(resolveDaemonConfig({ dataDir, listen: "127.0.0.1:0" }), { log: createLogger((l) => logs.push(l)), listener });
  return { ...d, logs };
}

const portOf = (listen: string) => Number(listen.slice(listen.lastIndexOf(":") + 1));

/** A TCP connection that sends nothing; `closed` resolves with how long it stayed open. */
type Silent = { socket: Socket; connected: Promise<void>; closed: Promise<number>; open: boolean };

function silent(port: number, localAddress = "127.0.0.1"): Silent {
  const started = performance.now();
  const socket = new Socket();
  const s = { socket, open: true } as Silent;
  s.connected = new Promise((resolve) => socket.once("connect", () => resolve()));
  s.closed = new Promise((resolve) =>
    socket.once("close", () => {
      s.open = false;
      resolve(performance.now() - started);
    }),
  );
  socket.on("error", () => {}); // a refusal may come as a reset
  socket.connect({ port, host: "127.0.0.1", localAddress });
  return s;
}

/** Open `n` silent connections from `localAddress` and wait until each is connected or closed. */
async function silents(port: number, n: number, localAddress = "127.0.0.1"): Promise<Silent[]> {
  const all = Array.from({ length: n }, () => silent(port, localAddress));
  await Promise.all(all.map((s) => Promise.race([s.connected, s.closed])));
  return all;
}

const stillOpen = (xs: Silent[]) => xs.filter((s) => s.open).length;

/** A TLS connection to the daemon from `localAddress` (its CA pinned, the host name not checked). */
function tlsFrom(port: number, localAddress: string, tls: Tls): TLSSocket {
  const socket = netConnect({ host: "127.0.0.1", port, localAddress });
  return tlsConnect({ socket, servername: "localhost", ALPNProtocols: ["h2"], ...tls, checkServerIdentity: () => undefined });
}

/**
 * One unary gRPC call made by hand over node:http2, on a TLS connection from `localAddress`
 * (grpc-js cannot choose its source address): Node.GetCrl with the device's certificate.
 * Resolves with the gRPC status and the bytes of the answer.
 */
function getCrlFrom(port: number, localAddress: string, tls: Tls): Promise<{ code: number; details: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://localhost:${port}`, {
      createConnection: () => tlsFrom(port, localAddress, tls),
    });
    const t = setTimeout(() => {
      session.destroy();
      reject(new Error(`no answer from ${localAddress} within 10 s`));
    }, 10_000);
    const done = (r: { code: number; details: string; bytes: number } | Error) => {
      clearTimeout(t);
      session.close();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    session.on("error", (e: Error) => done(e));
    const stream = session.request({
      [h2.HTTP2_HEADER_METHOD]: "POST",
      [h2.HTTP2_HEADER_PATH]: "/tether.v1.Node/GetCrl",
      [h2.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
      te: "trailers",
    });
    let bytes = 0;
    stream.on("data", (c: Buffer) => (bytes += c.length));
    const fromHeaders = (h: IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) done({ code: Number(h["grpc-status"]), details: decodeURIComponent(String(h["grpc-message"] ?? "")), bytes });
    };
    stream.on("response", fromHeaders);
    stream.on("trailers", fromHeaders);
    stream.on("error", (e: Error) => done(e));
    stream.end(Buffer.from([0, 0, 0, 0, 0])); // one empty GetCrlRequest
  });
}

/** A completed TLS handshake from `localAddress` that then sends nothing. */
function established(port: number, localAddress: string, tls: Tls): Promise<TLSSocket | undefined> {
  return new Promise((resolve) => {
    const s = tlsFrom(port, localAddress, tls);
    s.once("secureConnect", () => resolve(s));
    s.once("error", () => resolve(undefined));
    s.once("close", () => resolve(undefined));
  });
}

function credentialsOf(stateDir: string): Tls {
  const c = loadCredentials(stateDir);
  return { ca: c.caPem, cert: c.certPem, key: c.keyPem.expose() };
}

const lim = suite("listener limits");
const lctx = {} as { tmp: ReturnType<typeof tempDir>; data: string; tls: Tls };
lim.before(async () => {
  lctx.tmp = tempDir();
  // One paired device, for calls that must succeed; each test then runs its own daemon on this data.
  lctx.data = join(lctx.tmp.path, "paired");
  const t = await startTestDaemon({ dataDir: lctx.data });
  const node = join(lctx.tmp.path, "node");
  await pairDevice(t, node);
  await t.stop();
  lctx.tls = credentialsOf(node);
});
lim.after(() => lctx.tmp.remove());

lim("50 silent TCP connections are closed by the daemon once the handshake timeout passes", async () => {
  const TIMEOUT = 1000;
  const SLACK = 1500;
  const d = await limitedDaemon(join(lctx.tmp.path, "timeout"), { handshakeTimeoutMs: TIMEOUT, maxHandshakesPerAddress: 64 });
  try {
    const all = await silents(portOf(d.listen), 50);
    assert.is(stillOpen(all), 50, "all 50 are accepted (under the per-address cap)");
    const held = await within(Promise.all(all.map((s) => s.closed)), TIMEOUT + SLACK + 1000, "the daemon to close them");
    const min = Math.min(...held);
    const max = Math.max(...held);
    console.log(`    50 silent connections, handshake timeout ${TIMEOUT} ms: closed after ${min.toFixed(0)}..${max.toFixed(0)} ms`);
    assert.ok(min >= TIMEOUT - 5, `none closed before the timeout (first after ${min.toFixed(0)} ms)`);
    assert.ok(max <= TIMEOUT + SLACK, `all closed within the timeout + ${SLACK} ms (last after ${max.toFixed(0)} ms)`);
  } finally {
    await d.close();
  }
});

lim("the per-address cap refuses the excess at once; other addresses, and established connections, are not held up", async () => {
  const tls = lctx.tls;
  const d = await limitedDaemon(lctx.data, { handshakeTimeoutMs: 20_000, maxHandshakesPerAddress: 5 });
  try {
    const port = portOf(d.listen);
    const started = performance.now();
    const all = await silents(port, 8);
    await waitFor(() => all.filter((s) => !s.open).length >= 3, "three refused", 5000);
    const refusedIn = performance.now() - started;
    const refused = all.filter((s) => !s.open);
    console.log(`    8 silent connections from one address, cap 5: ${refused.length} refused within ${refusedIn.toFixed(0)} ms`);
    assert.is(stillOpen(all), 5, "five are held");
    assert.is(refused.length, 3, "three are refused");
    assert.ok(refusedIn < 2000, "at once, not after a timeout");
    // Another source address is not held up by this one.
    const other = await getCrlFrom(port, "127.0.0.2", tls);
    assert.is(other.code, status.OK, other.details);
    assert.ok(other.bytes > 0, "the CRL came back");
    // This address is, until its silent connections go.
    await getCrlFrom(port, "127.0.0.1", tls).then(
      () => assert.unreachable("a sixth handshake from the same address went through"),
      () => undefined,
    );
    for (const s of all) s.socket.destroy();
    await Promise.all(all.map((s) => s.closed));
    await waitFor(async () => (await getCrlFrom(port, "127.0.0.1", tls).catch(() => undefined))?.code === status.OK, "the address served again", 5000);
    // Established connections do not count: ten of them from one address, then a call from it still works.
    const open: (TLSSocket | undefined)[] = [];
    for (let i = 0; i < 10; i++) open.push(await established(port, "127.0.0.1", tls));
    try {
      assert.is(open.filter(Boolean).length, 10, "ten handshakes from one address, one after another");
      assert.is((await getCrlFrom(port, "127.0.0.1", tls)).code, status.OK);
    } finally {
      for (const s of open) s?.destroy();
    }
  } finally {
    await d.close();
  }
});

lim("the total cap on handshakes in progress holds across addresses", async () => {
  const d = await limitedDaemon(join(lctx.tmp.path, "total"), { handshakeTimeoutMs: 20_000, maxHandshakes: 10, maxHandshakesPerAddress: 100 });
  try {
    const port = portOf(d.listen);
    const all = (await Promise.all(["127.0.0.3", "127.0.0.4", "127.0.0.5"].map((a) => silents(port, 6, a)))).flat();
    await waitFor(() => all.filter((s) => !s.open).length >= 8, "the excess refused", 5000);
    assert.is(stillOpen(all), 10, "ten held, eight refused");
    for (const s of all) s.socket.destroy();
  } finally {
    await d.close();
  }
});

const MB = 1 << 20;
const HUGE_DEVICE = `dev_${"z".repeat(MB)}`;
const HUGE_JOB = `job_${"z".repeat(MB)}`;
const HUGE_REQUEST = `req_${"z".repeat(MB)}`;
/** An error's details, and every log line, must stay well under the 8 KiB metadata limit. */
const MAX_DETAILS_BYTES = 200;
const MAX_LOG_LINE_BYTES = 1024;

const ids = suite("oversized ids");
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; node: string; nodeDir: string };

ids.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: join(ctx.tmp.path, "data") });
  ctx.nodeDir = join(ctx.tmp.path, "node");
  ctx.node = await pairDevice(ctx.d, ctx.nodeDir, { name: "worker" });
});
ids.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

/** The gRPC status and details of a failed call (rpc wraps the ServiceError in a CliError). */
async function refusal(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (e) {
    const err = ((e as { cause?: unknown }).cause ?? e) as ServiceError;
    return { code: err.code, details: err.details ?? "" };
  }
  throw new Error("the call succeeded");
}

function assertRefused(what: string, r: { code: number; details: string }) {
  assert.is(r.code, status.INVALID_ARGUMENT, `${what}: status ${r.code} (${r.details.slice(0, 120)})`);
  const bytes = Buffer.byteLength(r.details);
  assert.ok(bytes < MAX_DETAILS_BYTES, `${what}: details are ${bytes} bytes`);
  assert.ok(r.details.length > 0, `${what}: details say what is wrong`);
}

function assertLogsShort() {
  const long = ctx.d.logs.filter((l) => Buffer.byteLength(l) > MAX_LOG_LINE_BYTES);
  assert.equal(
    long.map((l) => l.slice(0, 160)),
    [],
    "every log line stays short",
  );
}

const socket = () => ({ kind: "socket" as const, dataDir: ctx.d.dataDir });
const orch = (method: string, req: object) => rpc("Orchestrator", socket(), method, req, 10_000);
const adm = (method: string, req: object) => rpc("Admin", socket(), method, req, 10_000);

ids("a 1 MB device id in Register is INVALID_ARGUMENT with short details, and logged short", async () => {
  const s = await rawNodeStream(ctx.d.listen, ctx.nodeDir);
  try {
    const end = within(streamEnd(s.stream), 10_000, "the stream to end");
    s.stream.write({ register: { deviceId: HUGE_DEVICE, capabilities: [], platform: "", version: "", maxConcurrency: 1 } });
    assertRefused("Register", await end);
  } finally {
    s.close();
  }
  assertLogsShort();
});

ids("a 1 MB job id in a node's update or result is ignored and logged short", async () => {
  const c = connect(ctx.nodeDir);
  c.handle("echo", (x) => x);
  await c.start();
  await c.close();
  const s = await rawNodeStream(ctx.d.listen, ctx.nodeDir);
  s.stream.on("error", () => {}); // ends with CANCELLED when we close it
  try {
    s.stream.write({ register: { deviceId: ctx.node, capabilities: [], platform: "", version: "", maxConcurrency: 1 } });
    await waitFor(() => ctx.d.hub.isOnline(ctx.node), "registered");
    const before = ctx.d.logs.length;
    ctx.d.log.setLevel("debug"); // a report about an unknown job is logged at debug
    s.stream.write({ update: { jobId: HUGE_JOB, state: "running" } });
    s.stream.write({ result: { jobId: HUGE_JOB, ok: true, output: Buffer.from("1"), error: "" } });
    await waitFor(() => ctx.d.logs.slice(before).filter((l) => l.includes("ignored")).length >= 2, "both reports ignored");
  } finally {
    ctx.d.log.setLevel("info");
    s.close();
  }
  assertLogsShort();
});

ids("a 1 MB device id or job id in every Orchestrator call is INVALID_ARGUMENT with short details", async () => {
  const cases: [string, object][] = [
    ["Dispatch", { deviceId: HUGE_DEVICE, capability: "echo", input: Buffer.from("1"), timeoutMs: 0, idempotencyKey: "" }],
    ["Run", { deviceId: HUGE_DEVICE, capability: "echo", input: Buffer.from("1"), timeoutMs: 0, idempotencyKey: "" }],
    ["GetJob", { id: HUGE_JOB }],
    ["CancelJob", { id: HUGE_JOB, reason: "" }],
    ["ListJobs", { deviceId: HUGE_DEVICE, state: "", limit: 0 }],
  ];
  for (const [method, req] of cases) assertRefused(method, await refusal(orch(method, req)));
  const { watchJob } = await import("../packages/cli/src/cli.ts");
  assertRefused("WatchJob", await refusal(watchJob(socket(), HUGE_JOB, () => {})));
  assertLogsShort();
});

ids("a 1 MB id in every Admin call that takes one is INVALID_ARGUMENT with short details", async () => {
  const cases: [string, object][] = [
    ["GetDevice", { id: HUGE_DEVICE }],
    ["RevokeDevice", { id: HUGE_DEVICE, reason: "" }],
    ["ClearRevocation", { id: HUGE_DEVICE }],
    ["SetLabels", { id: HUGE_DEVICE, set: { a: "b" }, remove: [] }],
    ["RotateDevice", { id: HUGE_DEVICE }],
    ["RevokePreauthorization", { deviceId: HUGE_DEVICE }],
    ["Verify", { certificate: Buffer.alloc(0), token: "", audience: "", peerDeviceId: HUGE_DEVICE }],
    ["ApproveRequest", { id: HUGE_REQUEST, role: "" }],
    ["RejectRequest", { id: HUGE_REQUEST, reason: "" }],
  ];
  for (const [method, req] of cases) assertRefused(method, await refusal(adm(method, req)));
  // Nothing changed: the device is still there and not revoked.
  const dev = (await adm("GetDevice", { id: ctx.node })) as { revokedAt: number };
  assert.is(Number(dev.revokedAt), 0);
  assertLogsShort();
});

/** `tether daemon` as a child process under `ulimit -n nofile`; resolves once it is ready. */
async function daemonUnderFileLimit(dataDir: string, nofile: number) {
  const { FORCE_COLOR: _f, ...env } = process.env;
  const child = spawn("sh", ["-c", `ulimit -n ${nofile} && exec "$0" "$@"`, process.execPath, BIN, "daemon", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--json"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (err += c));
  const exited = new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  const line = await waitFor(() => out.split("\n").find((l) => l.includes('"ready"')) ?? (child.exitCode !== null ? "exited" : undefined), "daemon ready", 30_000);
  if (line === "exited") throw new Error(`daemon exited: ${err}`);
  const ready = JSON.parse(line) as { listen: string; pid: number };
  return { ready, logs: () => err, stop: () => (child.kill("SIGTERM"), exited) };
}

const openFiles = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

lim("under a file limit of 256: 300 silent connections, then a full listener, and the CLI and other addresses are still served", async () => {
  const d = await daemonUnderFileLimit(lctx.data, 256);
  const opened: { destroy(): void }[] = [];
  try {
    const port = portOf(d.ready.listen);
    assert.match(readFileSync(`/proc/${d.ready.pid}/limits`, "utf8"), /^Max open files\s+256\s+256/m, "the daemon runs with 256 files");
    const status0 = async () => {
      const r = await cli(["status", "--json", "--data-dir", lctx.data], { timeoutMs: 20_000 });
      assert.is(r.code, 0, `tether status: ${r.stderr}`);
    };

    // 300 from one address: the default per-address cap (32) holds a few, the rest go at once.
    const flood = await silents(port, 300);
    opened.push(...flood.map((s) => s.socket));
    await waitFor(() => stillOpen(flood) <= 32, "the excess refused", 10_000);
    console.log(`    300 silent connections from 127.0.0.1: ${stillOpen(flood)} held; daemon has ${openFiles(d.ready.pid)} files open`);
    assert.is(stillOpen(flood), 32);
    await status0();
    const other = await getCrlFrom(port, "127.0.0.2", lctx.tls);
    assert.is(other.code, status.OK, other.details);
    for (const s of flood) s.socket.destroy();
    await Promise.all(flood.map((s) => s.closed));
    await new Promise((r) => setTimeout(r, 300)); // the daemon sees them close

    // A full listener: connections that complete TLS and then idle, from ten addresses, in
    // small batches (under the handshake caps), until the daemon refuses more.
    let held = 0;
    let refused = 0;
    for (let batch = 0; batch < 20 && refused === 0; batch++) {
      const from = `127.0.0.${3 + (batch % 10)}`;
      const got = await Promise.all(Array.from({ length: 16 }, () => established(port, from, { ca: lctx.tls.ca })));
      for (const s of got) if (s) opened.push(s);
      held += got.filter(Boolean).length;
      refused += got.filter((s) => !s).length;
    }
    const files = openFiles(d.ready.pid);
    console.log(`    a full listener: ${held} connections held, further ones refused; daemon has ${files} of 256 files open`);
    assert.ok(refused > 0, "the listener refuses connections once full");
    assert.ok(held <= 192, `at most 256 - 64 connections (held ${held})`);
    assert.ok(files < 256, "descriptors are left");
    await status0();
    assert.match(d.logs(), /node listener refusing connections/);
  } finally {
    for (const s of opened) s.destroy();
    assert.is(await d.stop(), 0, "the daemon stops cleanly");
  }
});

lim.run();
ids.run();
