/**
 * Logs (docs/operations.md, "Logs"): TETHER_LOG_LEVEL and setLevel, the one schema written by
 * the daemon and by `tether node run --json-logs` (real processes), the daemon's shutdown
 * lines on SIGTERM, the caller's address in refusals, and a reconnecting node whose resent
 * results are logged at debug, not as a warning each.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Metadata, credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { LOG_LEVELS, LOG_LEVEL_ENV, createLogger } from "@tether/base";
import type { LogLevel } from "@tether/base";
import { connect } from "@tether/node";
import type { NodeConnection } from "@tether/node";
import type { Job } from "@tether/wire";
import { tetherPackageDefinition } from "@tether/wire";
import { rpc } from "../packages/cli/src/cli.ts";
import { admin, call, pairDevice, rawNodeStream, rawPairing, spawnCli, startDaemonProcess, startTestDaemon, stopDaemonProcess, streamEnd, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

type Line = Record<string, unknown> & { time: string; level: LogLevel; msg: string };
const RFC3339_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** Every line of a log, parsed; a line that is not one JSON object of the schema fails the test. */
function parse(text: string, what: string): Line[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch {
        assert.unreachable(`${what}: not a JSON line: ${l}`);
      }
      const r = v as Line;
      assert.equal(Object.keys(r).slice(0, 3), ["time", "level", "msg"], `${what}: keys start time, level, msg: ${l}`);
      assert.match(r.time, RFC3339_UTC, `${what}: time is RFC 3339 UTC: ${l}`);
      assert.ok((LOG_LEVELS as readonly string[]).includes(r.level), `${what}: level ${r.level}`);
      assert.type(r.msg, "string");
      return r;
    });
}

// --- levels (unit) ---

const L = suite("logs: levels");

function capture(level: string | undefined) {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), now: () => Date.UTC(2026, 10, 23, 12, 0, 0, 5), level });
  const parsed = () => lines.map((l) => JSON.parse(l) as Line);
  const writeAll = () => {
    for (const l of ["debug", "info", "warn", "error"] as const) log[l](`a ${l} line`, { n: 1 });
  };
  return { log, lines, parsed, writeAll };
}

L("each level writes itself and the more severe ones, nothing else", () => {
  const expect: Record<LogLevel, LogLevel[]> = { error: ["error"], warn: ["warn", "error"], info: ["info", "warn", "error"], debug: ["debug", "info", "warn", "error"] };
  for (const level of LOG_LEVELS) {
    const c = capture(level);
    c.writeAll();
    assert.equal(
      c.parsed().map((r) => r.level),
      expect[level],
      level,
    );
    assert.is(c.log.level, level);
  }
  // case and blanks do not matter; empty or unset means info, without a warning
  assert.is(capture(" DEBUG ").log.level, "debug");
  for (const v of ["", undefined]) {
    const c = capture(v);
    assert.is(c.log.level, "info");
    assert.is(c.lines.length, 0, "no warning");
  }
});

L("a line is time, level, msg, then the fields; a field cannot replace a schema key", () => {
  const c = capture("info");
  c.log.info("hello", { device: "dev_x", msg: "spoof", level: "error", n: 2, esc: "\u001b[2J" });
  const line = c.lines[0] as string;
  assert.is(line, '{"time":"2026-11-23T12:00:00.005Z","level":"info","msg":"hello","device":"dev_x","_msg":"spoof","_level":"error","n":2,"esc":"\\u001b[2J"}\n');
});

L("an unknown level is reported once, in a warn line, and info is used", () => {
  const c = capture("verbose");
  assert.is(c.log.level, "info");
  assert.is(c.lines.length, 1);
  const w = c.parsed()[0] as Line;
  assert.is(w.level, "warn");
  assert.is(w.msg, "unknown log level; using info");
  assert.is(w.variable, LOG_LEVEL_ENV);
  assert.is(w.value, "verbose");
  c.writeAll();
  assert.equal(
    c
      .parsed()
      .slice(1)
      .map((r) => r.level),
    ["info", "warn", "error"],
  );
});

L("the level defaults to $TETHER_LOG_LEVEL", () => {
  const saved = process.env[LOG_LEVEL_ENV];
  try {
    process.env[LOG_LEVEL_ENV] = "error";
    assert.is(createLogger(() => {}).level, "error");
  } finally {
    if (saved === undefined) delete process.env[LOG_LEVEL_ENV];
    else process.env[LOG_LEVEL_ENV] = saved;
  }
});

L("setLevel changes what is written from then on; a bad level throws and changes nothing", () => {
  const c = capture("info");
  c.log.debug("hidden");
  c.log.setLevel("debug");
  c.log.debug("shown");
  c.log.setLevel("error");
  c.log.warn("hidden too");
  c.log.error("shown too");
  assert.equal(
    c.parsed().map((r) => r.msg),
    ["shown", "shown too"],
  );
  assert.throws(() => c.log.setLevel("loud" as LogLevel), /"level" expected one of error, warn, info, debug, got "loud"/);
  assert.is(c.log.level, "error");
});

L.run();

// --- real processes: one schema, shutdown lines ---

const P = suite("logs: the daemon and tether node run (processes)");
type Proc = ReturnType<typeof spawnCli>;
const pctx = {} as { tmp: ReturnType<typeof tempDir>; data: string; daemon: Proc; listen: string; node: string; runner?: Proc };

P.before(async () => {
  pctx.tmp = tempDir();
  pctx.data = join(pctx.tmp.path, "data");
  const started = await startDaemonProcess(pctx.data, [], "127.0.0.1:0", { [LOG_LEVEL_ENV]: "debug" });
  pctx.daemon = started.d;
  pctx.listen = started.ready.listen;
  pctx.node = await pairDevice({ dataDir: pctx.data, listen: pctx.listen }, join(pctx.tmp.path, "node"), { name: "logger" });
});

P.after(async () => {
  if (pctx.runner) await stopDaemonProcess(pctx.runner, "SIGKILL");
  await stopDaemonProcess(pctx.daemon, "SIGKILL");
  pctx.tmp.remove();
});

P("the daemon and node run --json-logs write the same schema, with the same field names", async () => {
  // node run with an unknown level: it says so, once, and logs at info
  const r = spawnCli(["node", "run", "--state-dir", join(pctx.tmp.path, "node"), "--json-logs", "--capability", "echo=cat"], { [LOG_LEVEL_ENV]: "chatty" });
  pctx.runner = r;
  await waitFor(() => r.err().includes('"msg":"registered"'), `node run registered (${r.err()})`, 30_000);
  const job = await rpc<Job>("Orchestrator", { kind: "socket", dataDir: pctx.data }, "Dispatch", {
    deviceId: pctx.node,
    capability: "echo",
    input: Buffer.from('{"x":1}'),
    timeoutMs: 0,
    idempotencyKey: "",
  });
  await waitFor(() => r.err().includes('"msg":"job finished"'), `job finished on the node (${r.err()})`);
  await waitFor(() => pctx.daemon.err().includes('"msg":"job finished"'), "job finished in the daemon's log");

  const node = parse(r.err(), "node run");
  const daemon = parse(pctx.daemon.err(), "daemon");
  assert.equal(node[0], { ...node[0], level: "warn", msg: "unknown log level; using info", variable: LOG_LEVEL_ENV, value: "chatty" });
  assert.is(node.filter((l) => l.msg === "unknown log level; using info").length, 1, "reported once");
  const byMsg = (ls: Line[], msg: string): Line => {
    const l = ls.find((x) => x.msg === msg);
    if (!l) throw new Error(`no "${msg}" line`);
    return l;
  };
  // the same things under the same names
  assert.is(byMsg(node, "registered").device, pctx.node);
  assert.is(byMsg(daemon, "node registered").device, pctx.node);
  assert.is(byMsg(daemon, "node registered").peer, "127.0.0.1");
  assert.equal([byMsg(node, "job started").job, byMsg(node, "job finished").job], [job.id, job.id]);
  assert.equal([byMsg(daemon, "job dispatched").job, byMsg(daemon, "job finished").job], [job.id, job.id]);
  assert.is(byMsg(daemon, "job finished").level, "debug");
  // the levels each side used are the schema's
  const used = new Set([...node, ...daemon].map((l) => l.level));
  for (const l of used) assert.ok((LOG_LEVELS as readonly string[]).includes(l));
  console.log(
    `    node run: ${r.err().split("\n")[1]}\n    daemon:   ${pctx.daemon
      .err()
      .split("\n")
      .find((l) => l.includes("node registered"))}`,
  );
});

P("SIGTERM: the daemon logs why it stops, what it closes, and its uptime last", async () => {
  const before = pctx.daemon.err().length;
  const code = await stopDaemonProcess(pctx.daemon, "SIGTERM");
  assert.is(code, 0);
  const tail = parse(pctx.daemon.err().slice(before), "daemon shutdown");
  const stopping = tail.find((l) => l.msg === "daemon stopping");
  if (!stopping) throw new Error(`no "daemon stopping" in ${pctx.daemon.err().slice(before)}`);
  assert.is(stopping.level, "info");
  assert.is(stopping.reason, "SIGTERM");
  assert.is(stopping.nodesOnline, 1, "the node run was connected");
  assert.equal(stopping.closing, ["admin socket", "console", "admin server", "node listener", "pending refusal counts (audit)", "node hub and job queue", "store"]);
  const last = tail[tail.length - 1] as Line;
  assert.is(last.msg, "daemon stopped");
  assert.is(last.reason, "SIGTERM");
  assert.type(last.uptimeMs, "number");
  assert.ok((last.uptimeMs as number) > 0);
  assert.not.ok(
    tail.some((l) => l.level === "error"),
    "nothing failed while closing",
  );
  console.log(
    `    ${pctx.daemon
      .err()
      .slice(before)
      .trim()
      .split("\n")
      .filter((l) => /daemon stop/.test(l))
      .join("\n    ")}`,
  );
  // the node run saw the daemon go away, in the same schema
  const r = pctx.runner as Proc;
  await waitFor(() => r.err().includes('"msg":"disconnected"'), "node run disconnected");
  const gone = parse(r.err(), "node run").find((l) => l.msg === "disconnected") as Line;
  assert.is(gone.level, "warn");
  assert.type(gone.status, "string");
  assert.type(gone.error, "string");
  assert.is(await stopDaemonProcess(r, "SIGTERM"), 0);
});

P.run();

// --- refusals carry the caller's address ---

const R = suite("logs: refusals name the peer");
const rctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon };

R.before(async () => {
  rctx.tmp = tempDir();
  rctx.d = await startTestDaemon({ dataDir: join(rctx.tmp.path, "data") });
});
R.after(async () => {
  await rctx.d.stop();
  rctx.tmp.remove();
});

type NodeNoCert = Client & { GetCrl(req: object, md: Metadata, o: object, cb: (e: ServiceError | null) => void): void; Connect(): NodeJS.ReadableStream & { end(): void } };
/** A Node client with no client certificate (TLS, server certificate not checked). */
function nodeWithoutCertificate(address: string): NodeNoCert {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as {
    tether: { v1: { Node: new (a: string, c: ReturnType<typeof credentials.createSsl>, o: object) => NodeNoCert } };
  };
  return new pkg.tether.v1.Node(address, credentials.createSsl(null, null, null, { rejectUnauthorized: false }), { "grpc.ssl_target_name_override": "localhost" });
}

const refusals = (method: string) => rctx.d.logs.map((l) => JSON.parse(l) as Line).filter((l) => l.msg === "rpc refused" && l.method === method);

R("a refused Pairing call, Node call and Node.Connect stream log peer 127.0.0.1; an admin call logs admin-socket", async () => {
  const p = rawPairing(rctx.d.listen);
  await call(p, "Start", { version: 1, method: "pin", selector: "12" }).then(
    () => assert.unreachable("Start with a bad selector succeeded"),
    (e: ServiceError) => assert.ok(e.code > 0),
  );
  p.close();
  const n = nodeWithoutCertificate(rctx.d.listen);
  const crl = await new Promise<ServiceError | null>((res) => n.GetCrl({}, new Metadata(), { deadline: Date.now() + 10_000 }, res));
  assert.is(crl?.code, status.UNAUTHENTICATED);
  const end = await streamEnd(n.Connect());
  assert.is(end.code, status.UNAUTHENTICATED);
  n.close();
  await admin(rctx.d, "GetDevice", { id: "not-an-id" }).then(
    () => assert.unreachable("GetDevice of a bad id succeeded"),
    () => undefined,
  );
  for (const m of ["Pairing.Start", "Node.GetCrl", "Node.Connect"]) {
    const r = await waitFor(() => refusals(m)[0], `"rpc refused" for ${m}`);
    assert.is(r.peer, "127.0.0.1", `${m}: ${JSON.stringify(r)}`);
  }
  assert.is((refusals("Admin.GetDevice")[0] as Line).peer, "admin-socket");
  const all = rctx.d.logs.map((l) => JSON.parse(l) as Line).filter((l) => l.msg === "rpc refused");
  assert.ok(
    all.every((l) => typeof l.peer === "string" && l.peer !== ""),
    "every refusal names its peer",
  );
  console.log(`    ${rctx.d.logs.find((l) => l.includes("Node.GetCrl"))?.trim()}`);
});

R.run();

// --- a node that reconnects and resends its results ---

const N = suite("logs: redelivered results");
const nctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; a: string; b: string; conn?: NodeConnection };
const RESULTS = 20;

N.before(async () => {
  nctx.tmp = tempDir();
  nctx.d = await startTestDaemon({ dataDir: join(nctx.tmp.path, "data") });
  nctx.d.log.setLevel("debug"); // to see that the resent results did arrive
  nctx.a = await pairDevice(nctx.d, join(nctx.tmp.path, "a"), { name: "a" });
  nctx.b = await pairDevice(nctx.d, join(nctx.tmp.path, "b"), { name: "b" });
});
N.after(async () => {
  await nctx.conn?.close();
  await nctx.d.stop();
  nctx.tmp.remove();
});

const lines = () => nctx.d.logs.map((l) => JSON.parse(l) as Line);
const ignored = () => lines().filter((l) => l.msg === "job result ignored");

N(`a node that reconnects with ${RESULTS} cached results writes no warning per result at info level`, async () => {
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const c = connect(join(nctx.tmp.path, "a"), { maxConcurrency: 4 });
  c.handle("echo", (x) => x);
  c.handle("hold", () => held.then(() => "released"));
  nctx.conn = c;
  await c.start();
  const jobs: { id: string }[] = [];
  for (let i = 0; i < RESULTS; i++) jobs.push(await nctx.d.jobs.dispatch({ deviceId: nctx.a, capability: "echo", input: Buffer.from(String(i)), dispatchedBy: "admin" }));
  await waitFor(async () => (await Promise.all(jobs.map((j) => nctx.d.jobs.get(j.id)))).every((j) => j.state === "succeeded"), "all jobs succeeded");

  // The daemon drops the stream (as at a daemon restart or a network cut); the SDK reconnects
  // and, after `registered`, sends its cached results again.
  const registered = new Promise((r) => c.once("registered", r));
  nctx.d.hub.endStreams(nctx.a, status.UNAVAILABLE, "test: stream dropped");
  await registered;
  const resent = await waitFor(() => (ignored().length >= RESULTS ? ignored() : undefined), `${RESULTS} resent results (${ignored().length})`);
  assert.is(resent.length, RESULTS);
  assert.ok(resent.every((l) => l.level === "debug" && l.code === "FINISHED" && l.device === nctx.a && l.peer === "127.0.0.1"));
  const atInfo = lines().filter((l) => l.level !== "debug");
  assert.equal(
    atInfo.filter((l) => /ignored/.test(l.msg)),
    [],
    "no per-result line at info level or above",
  );

  // A result for a job delivered to another device is still a warning, with where it came from.
  const hold = await nctx.d.jobs.dispatch({ deviceId: nctx.a, capability: "hold", input: Buffer.from("null"), dispatchedBy: "admin" });
  await waitFor(async () => ["delivered", "running"].includes((await nctx.d.jobs.get(hold.id)).state), "held job delivered");
  const { stream, close } = await rawNodeStream(nctx.d.listen, join(nctx.tmp.path, "b"));
  stream.on("error", () => {});
  stream.write({ register: { deviceId: nctx.b, capabilities: [], platform: "x", version: "1", maxConcurrency: 1 } });
  await new Promise((r) => stream.once("data", r));
  stream.write({ result: { jobId: hold.id, ok: true, output: Buffer.from('"forged"'), error: "" } });
  const warn = await waitFor(() => ignored().find((l) => l.job === hold.id), "the forged result logged");
  assert.equal({ level: warn.level, code: warn.code, device: warn.device, peer: warn.peer }, { level: "warn", code: "OTHER_DEVICE", device: nctx.b, peer: "127.0.0.1" });
  close();
  release();
  await waitFor(async () => (await nctx.d.jobs.get(hold.id)).state === "succeeded", "held job done");
  console.log(`    ${nctx.d.logs.find((l) => l.includes("OTHER_DEVICE"))?.trim()}`);
});

N.run();
