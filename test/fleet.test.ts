/**
 * Node streams, dispatch and revocation against a real in-process daemon: real mutual TLS on
 * port 0, real LevelDB, nodes paired through the real handshake and connected with the SDK.
 */
import { cpSync, readFileSync } from "node:fs";
import { X509Certificate, createPublicKey } from "node:crypto";
import { once } from "node:events";
import * as tls from "node:tls";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { connect, orchestrator } from "@tether/node";
import type { NodeConnection, NodeError } from "@tether/node";
import type { Device, Job } from "@tether/wire";
import { rpc } from "../packages/cli/src/cli.ts";
import { admin, pairDevice, rawNodeClient, rawNodeStream, startTestDaemon, streamEnd, tempDir, waitFor, mintCode, pinParts, rawPairing, handshakeStart } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

let offset = 0;
const now = () => Date.now() + offset;
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; node: string; orch: string; conns: NodeConnection[] };
const F = suite("fleet: streams, jobs, revocation");

async function startDaemon(listen?: string) {
  return startTestDaemon({
    ...(listen ? { listen } : {}),
    dataDir: `${ctx.tmp.path}/data`,
    now,
    registrationTimeoutMs: 700,
    jobs: { maxQueuedPerDevice: 5, maxInputBytes: 4096, maxOutputBytes: 4096 },
  });
}

F.before(async () => {
  ctx.tmp = tempDir();
  ctx.conns = [];
  ctx.d = await startDaemon();
  ctx.node = await pairDevice(ctx.d, `${ctx.tmp.path}/node`, { name: "worker" });
  ctx.orch = await pairDevice(ctx.d, `${ctx.tmp.path}/orch`, { role: "orchestrator", name: "boss" });
});

F.after(async () => {
  for (const c of ctx.conns) await c.close();
  await ctx.d.stop();
  ctx.tmp.remove();
});

const local = () => ({ kind: "socket" as const, dataDir: ctx.d.dataDir });
const dispatch = (req: object) => rpc<Job>("Orchestrator", local(), "Dispatch", { timeoutMs: 0, idempotencyKey: "", input: Buffer.from("null"), ...req });
const getJob = (id: string) => rpc<Job>("Orchestrator", local(), "GetJob", { id });
const out = (j: Job) => JSON.parse(Buffer.from(j.output).toString("utf8") || "null") as unknown;

async function startNode(dir: string, handlers: Record<string, (input: unknown, c: { signal: AbortSignal; jobId: string; attempt: number }) => unknown>, maxConcurrency = 4) {
  const c = connect(dir, { maxConcurrency });
  for (const [k, f] of Object.entries(handlers)) c.handle(k, f as never);
  ctx.conns.push(c);
  await c.start();
  return c;
}

async function finalJob(id: string, timeoutMs = 15_000): Promise<Job> {
  return waitFor(
    async () => {
      const j = await getJob(id);
      return ["succeeded", "failed", "timed_out", "cancelled"].includes(j.state) ? j : undefined;
    },
    `job ${id} to finish`,
    timeoutMs,
  );
}

F("a node registers; a job dispatched on the admin socket runs and returns its output", async () => {
  const c = await startNode(`${ctx.tmp.path}/node`, { echo: (x) => ({ got: x }), sleep: (_x, k) => new Promise((r) => k.signal.addEventListener("abort", () => r(null))) });
  const dev = await admin<Device>(ctx.d, "GetDevice", { id: ctx.node });
  assert.ok(dev.online);
  assert.equal(dev.capabilities.sort(), ["echo", "sleep"]);
  assert.match(dev.platform, /-/);
  const j = await dispatch({ deviceId: ctx.node, capability: "echo", input: Buffer.from('{"a":1}') });
  // a connected node with room gets it at once (written as delivered); otherwise it is queued
  assert.is(j.state, "delivered");
  assert.is(j.attempts, 1);
  const done = await finalJob(j.id);
  assert.is(done.state, "succeeded");
  assert.equal(out(done), { got: { a: 1 } });
  assert.is(done.attempts, 1);
  void c;
});

F("an orchestrator device dispatches over mutual TLS; a node-role device may not", async () => {
  const o = orchestrator(`${ctx.tmp.path}/orch`);
  const call = <T>(client: typeof o, m: "Dispatch" | "ListNodes", req: object) =>
    new Promise<T>((res, rej) => client[m](req, new Metadata(), { deadline: Date.now() + 10_000 }, (e, r) => (e ? rej(e) : res(r as T))));
  try {
    const nodes = await call<{ nodes: { deviceId: string; online: boolean }[] }>(o, "ListNodes", { capability: "echo", online: "true" });
    assert.equal(
      nodes.nodes.map((n) => n.deviceId),
      [ctx.node],
    );
    const j = await call<Job>(o, "Dispatch", { deviceId: ctx.node, capability: "echo", input: Buffer.from("7"), timeoutMs: 10_000, idempotencyKey: "" });
    assert.is(j.dispatchedBy, ctx.orch);
    assert.equal(out(await finalJob(j.id)), { got: 7 });
  } finally {
    o.close();
  }
  const asNode = orchestrator(`${ctx.tmp.path}/node`);
  try {
    const e = (await call(asNode, "ListNodes", { capability: "", online: "" }).catch((x: unknown) => x)) as ServiceError;
    assert.is(e.code, status.PERMISSION_DENIED);
    assert.match(e.details, /role "node"/);
  } finally {
    asNode.close();
  }
});

F("Run: one call dispatches and answers with the final job, over mutual TLS; refusals as Dispatch", async () => {
  const o = orchestrator(`${ctx.tmp.path}/orch`);
  const run = (req: object) =>
    new Promise<Job>((res, rej) =>
      o.Run({ timeoutMs: 10_000, idempotencyKey: "", input: Buffer.from("null"), ...req }, new Metadata(), { deadline: Date.now() + 15_000 }, (e, r) =>
        e ? rej(e) : res(r as Job),
      ),
    );
  try {
    const j = await run({ deviceId: ctx.node, capability: "echo", input: Buffer.from("8") });
    assert.is(j.state, "succeeded");
    assert.equal(out(j), { got: 8 });
    assert.is(j.dispatchedBy, ctx.orch);
    // the same idempotency key answers with the same (final) job
    const a = await run({ deviceId: ctx.node, capability: "echo", input: Buffer.from("9"), idempotencyKey: "run-1" });
    const b = await run({ deviceId: ctx.node, capability: "echo", input: Buffer.from("9"), idempotencyKey: "run-1" });
    assert.is(a.id, b.id);
    const e = (await run({ deviceId: "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", capability: "echo" }).catch((x: unknown) => x)) as ServiceError;
    assert.is(e.code, status.NOT_FOUND);
    // a job that times out answers timed_out, it does not hang
    const t = await run({ deviceId: ctx.node, capability: "sleep", timeoutMs: 300 });
    assert.is(t.state, "timed_out");
  } finally {
    o.close();
  }
});

F("dispatch refusals: unknown device, unannounced capability, bad or oversized input, full queue", async () => {
  const err = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => "accepted",
      (e: Error) => e.message,
    );
  assert.match(await err(dispatch({ deviceId: "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", capability: "echo" })), /no device/);
  assert.match(await err(dispatch({ deviceId: "dev_nope", capability: "echo" })), /must be a device id/);
  assert.match(await err(dispatch({ deviceId: ctx.node, capability: "never" })), /has not announced capability "never"/);
  assert.match(await err(dispatch({ deviceId: ctx.node, capability: "echo", input: Buffer.from("{oops") })), /not valid UTF-8 JSON/);
  assert.match(await err(dispatch({ deviceId: ctx.node, capability: "echo", input: Buffer.from(JSON.stringify("x".repeat(5000))) })), /limit is 4096/);
  assert.match(await err(dispatch({ deviceId: ctx.node, capability: "Bad Name" })), /capability/);
  // The orchestrator device announced nothing and is not connected: queue for the node instead,
  // with the node's stream busy on long jobs so that jobs stay queued.
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await dispatch({ deviceId: ctx.node, capability: "sleep", timeoutMs: 60_000 })).id);
  // 4 are running (the node takes 4 at once); 5 more fill the queue; the rest are refused.
  const flood: (string | Error)[] = [];
  try {
    for (let i = 0; i < 8; i++)
      flood.push(
        await dispatch({ deviceId: ctx.node, capability: "sleep", timeoutMs: 60_000 }).then(
          (j) => j.id,
          (e: Error) => e,
        ),
      );
    const refused = flood.filter((x) => x instanceof Error) as (Error & { exitCode?: number })[];
    assert.ok(refused.length >= 3, `the queue limit refused the flood (${refused.length} refused)`);
    for (const e of refused) {
      assert.match(e.message, /QUEUE_FULL: .*queued jobs \(limit 5\)/);
      assert.is(e.exitCode, 9, "RESOURCE_EXHAUSTED");
    }
  } finally {
    for (const id of [...ids, ...flood.filter((x): x is string => typeof x === "string")]) {
      await rpc("Orchestrator", local(), "CancelJob", { id, reason: "cleanup" });
    }
  }
});

F("the same idempotency key returns the same job", async () => {
  const a = await dispatch({ deviceId: ctx.node, capability: "echo", idempotencyKey: "k-1", input: Buffer.from("1") });
  const b = await dispatch({ deviceId: ctx.node, capability: "echo", idempotencyKey: "k-1", input: Buffer.from("2") });
  assert.is(b.id, a.id);
  await finalJob(a.id);
});

F("cancel stops the job on its node; a deadline times it out and aborts the handler", async () => {
  const j = await dispatch({ deviceId: ctx.node, capability: "sleep", timeoutMs: 30_000 });
  await waitFor(async () => (await getJob(j.id)).state === "running", "job running");
  const c = await rpc<Job>("Orchestrator", local(), "CancelJob", { id: j.id, reason: "changed my mind" });
  assert.is(c.state, "cancelled");
  const again = await rpc("Orchestrator", local(), "CancelJob", { id: j.id, reason: "" }).catch((e: Error) => e.message);
  assert.match(String(again), /already cancelled/);

  const t = await dispatch({ deviceId: ctx.node, capability: "sleep", timeoutMs: 400 });
  const done = await finalJob(t.id);
  assert.is(done.state, "timed_out");
});

F("a stream that never registers is closed after a bounded time", async () => {
  const { stream, close } = await rawNodeStream(ctx.d.listen, `${ctx.tmp.path}/orch`);
  const started = Date.now();
  const end = await streamEnd(stream);
  close();
  assert.is(end.code, status.DEADLINE_EXCEEDED);
  assert.match(end.details, /no registration within 700 ms/);
  assert.ok(Date.now() - started < 5000);
});

F("a node claiming another device's id is refused", async () => {
  const { stream, close } = await rawNodeStream(ctx.d.listen, `${ctx.tmp.path}/orch`);
  stream.write({ register: { deviceId: ctx.node, capabilities: [], platform: "x", version: "1", maxConcurrency: 1 } });
  const end = await streamEnd(stream);
  close();
  assert.is(end.code, status.PERMISSION_DENIED);
  assert.match(end.details, /belongs to dev_/);
});

F("a result for someone else's job, or a second result, is ignored", async () => {
  const j = await dispatch({ deviceId: ctx.node, capability: "sleep", timeoutMs: 30_000 });
  await waitFor(async () => (await getJob(j.id)).state === "running", "job running");
  const { stream, close } = await rawNodeStream(ctx.d.listen, `${ctx.tmp.path}/orch`);
  stream.write({ register: { deviceId: ctx.orch, capabilities: [], platform: "x", version: "1", maxConcurrency: 1 } });
  await new Promise((r) => stream.once("data", r));
  stream.write({ result: { jobId: j.id, ok: true, output: Buffer.from('"forged"'), error: "" } });
  await new Promise((r) => setTimeout(r, 300));
  assert.is((await getJob(j.id)).state, "running", "a stranger's result changed nothing");
  assert.ok(ctx.d.logs.some((l) => l.includes("job result ignored") && l.includes("is not assigned to")));
  await rpc("Orchestrator", local(), "CancelJob", { id: j.id, reason: "" });

  // Now a job of its own, answered twice: the first result stands, the second is ignored
  // (logged at debug: it is what a node resends after a reconnect, test/logs.test.ts).
  ctx.d.log.setLevel("debug");
  stream.end();
  close();
  const raw = await rawNodeStream(ctx.d.listen, `${ctx.tmp.path}/orch`);
  const assignments: { job?: { jobId: string } }[] = [];
  raw.stream.on("data", (m: { job?: { jobId: string } }) => assignments.push(m));
  raw.stream.write({
    register: { deviceId: ctx.orch, capabilities: [{ name: "raw", description: "", inputSchema: "", outputSchema: "" }], platform: "x", version: "1", maxConcurrency: 1 },
  });
  await waitFor(() => assignments.length >= 1, "registered");
  const own = await dispatch({ deviceId: ctx.orch, capability: "raw" });
  const assigned = await waitFor(() => assignments.find((m) => m.job?.jobId === own.id), "assignment");
  void assigned;
  raw.stream.write({ result: { jobId: own.id, ok: true, output: Buffer.from('"first"'), error: "" } });
  const first = await finalJob(own.id);
  raw.stream.write({ result: { jobId: own.id, ok: false, output: Buffer.alloc(0), error: "second" } });
  await waitFor(() => ctx.d.logs.some((l) => l.includes("job result ignored") && l.includes(own.id) && l.includes("already finished")), "second result logged");
  const after = await getJob(own.id);
  assert.is(after.state, "succeeded");
  assert.equal(out(after), "first");
  assert.is(after.updatedAt, first.updatedAt);
  ctx.d.log.setLevel("info");
  raw.stream.end();
  raw.close();
});

F("a cancelled job frees its slot: the next queued job goes out without waiting for a result", async () => {
  const raw = await rawNodeStream(ctx.d.listen, `${ctx.tmp.path}/orch`);
  const got: string[] = [];
  raw.stream.on("data", (m: { job?: { jobId: string } }) => m.job && got.push(m.job.jobId));
  raw.stream.write({
    register: { deviceId: ctx.orch, capabilities: [{ name: "raw", description: "", inputSchema: "", outputSchema: "" }], platform: "x", version: "1", maxConcurrency: 1 },
  });
  await waitFor(async () => (await admin<Device>(ctx.d, "GetDevice", { id: ctx.orch })).online, "raw node online");
  const a = await dispatch({ deviceId: ctx.orch, capability: "raw" });
  const b = await dispatch({ deviceId: ctx.orch, capability: "raw" });
  await waitFor(() => got.includes(a.id), "first job delivered");
  assert.not.ok(got.includes(b.id), "one at a time");
  await rpc("Orchestrator", local(), "CancelJob", { id: a.id, reason: "" }); // this node never answers
  await waitFor(() => got.includes(b.id), "second job delivered after the cancel");
  await rpc("Orchestrator", local(), "CancelJob", { id: b.id, reason: "" });
  raw.stream.end();
  raw.close();
});

F("a second process with the same identity replaces the first, which stops instead of fighting back", async () => {
  const dir = `${ctx.tmp.path}/twin`;
  const id = await pairDevice(ctx.d, dir, { name: "twin" });
  // the first process holds a job when it is replaced
  let held!: () => void;
  const holding = new Promise<void>((r) => (held = r));
  const first = await startNode(dir, { t: () => new Promise(() => held()) });
  const j = await dispatch({ deviceId: id, capability: "t", timeoutMs: 30_000 });
  await holding;
  const stopped = new Promise<Error>((r) => first.once("fatal", r));
  await startNode(dir, { t: (_x, k) => ({ second: true, attempt: k.attempt }) });
  const e = await stopped;
  // The SDK's message says what is true and what works; the daemon's words are its cause.
  assert.match(e.message, /^another process connected as this device .*run one `tether node run` per state directory/);
  assert.match((e.cause as Error).message, /ABORTED.*replaced/);
  // the job sent on the replaced stream goes out again on the new one (same id, next attempt)
  const done = await finalJob(j.id);
  assert.is(done.state, "succeeded");
  assert.equal(out(done), { second: true, attempt: 2 });
});

F("oversized output fails the job", async () => {
  await pairDevice(ctx.d, `${ctx.tmp.path}/node2`, { name: "big" });
  const big = await startNode(`${ctx.tmp.path}/node2`, { big: () => "y".repeat(8000) });
  const j = await dispatch({ deviceId: big.deviceId, capability: "big" });
  const done = await finalJob(j.id);
  assert.is(done.state, "failed");
  assert.match(done.error, /output is \d+ bytes; the limit is 4096/);
});

F("a job for an offline node waits; a node gone mid-job gets it again with the same id", async () => {
  const dir = `${ctx.tmp.path}/node3`;
  const id = await pairDevice(ctx.d, dir, { name: "flaky" });
  const first = await startNode(dir, { work: (_x, k) => new Promise((r) => k.signal.addEventListener("abort", () => r(null))) });
  await first.close(); // it announced "work", and is now offline
  const j = await dispatch({ deviceId: id, capability: "work", timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 200));
  assert.is((await getJob(j.id)).state, "queued");
  const seen: { jobId: string; attempt: number }[] = [];
  const second = await startNode(dir, { work: (_x, k) => (seen.push({ jobId: k.jobId, attempt: k.attempt }), new Promise(() => {})) });
  await waitFor(() => seen.length === 1, "delivery after connect");
  await second.close(); // gone mid-job
  await waitFor(async () => (await getJob(j.id)).state === "queued", "job back in the queue");
  const third = await startNode(dir, { work: (_x, k) => (seen.push({ jobId: k.jobId, attempt: k.attempt }), "done") });
  const done = await finalJob(j.id);
  assert.is(done.state, "succeeded");
  assert.equal(
    seen.map((s) => s.jobId),
    [j.id, j.id],
  );
  assert.equal(
    seen.map((s) => s.attempt),
    [1, 2],
  );
  await third.close();
  // offline until the deadline: timed out
  const late = await dispatch({ deviceId: id, capability: "work", timeoutMs: 300 });
  assert.is((await finalJob(late.id)).state, "timed_out");
});

F("the in-flight limit holds", async () => {
  const dir = `${ctx.tmp.path}/node4`;
  const id = await pairDevice(ctx.d, dir, { name: "narrow" });
  let running = 0;
  let peak = 0;
  await startNode(
    dir,
    {
      slow: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 150));
        running--;
        return null;
      },
    },
    2,
  );
  const jobs = [];
  for (let i = 0; i < 5; i++) jobs.push(await dispatch({ deviceId: id, capability: "slow" }));
  for (const j of jobs) assert.is((await finalJob(j.id)).state, "succeeded");
  assert.is(peak, 2);
});

F("unfinished jobs survive a daemon restart and are delivered again with the same id", async () => {
  const dir = `${ctx.tmp.path}/node5`;
  const id = await pairDevice(ctx.d, dir, { name: "survivor" });
  const seen: string[] = [];
  await startNode(dir, { hold: (_x, k) => (seen.push(k.jobId), new Promise(() => {})) });
  const j = await dispatch({ deviceId: id, capability: "hold", timeoutMs: 30_000 });
  await waitFor(() => seen.length === 1, "delivered");
  for (const c of ctx.conns.splice(0)) await c.close();
  await ctx.d.close();
  ctx.d = await startDaemon(ctx.d.listen); // same port: the node knows this address
  const after: { jobId: string; attempt: number }[] = [];
  await startNode(dir, { hold: (_x, k) => (after.push({ jobId: k.jobId, attempt: k.attempt }), "ok") });
  const done = await finalJob(j.id);
  assert.is(done.state, "succeeded");
  assert.equal(after, [{ jobId: j.id, attempt: 2 }]);
});

F("renewal: a new key and certificate over the open stream; the old one works for the overlap, then never", async () => {
  const dir = `${ctx.tmp.path}/renewer`;
  const id = await pairDevice(ctx.d, dir, { name: "renewer" });
  const old = `${ctx.tmp.path}/renewer-old`;
  cpSync(dir, old, { recursive: true });
  let registrations = 0;
  const c = connect(dir, { maxConcurrency: 2 });
  c.handle("echo", (x) => x);
  c.on("registered", () => registrations++);
  ctx.conns.push(c);
  await c.start();
  const before = (await admin<Device>(ctx.d, "GetDevice", { id })).certificateFingerprint;
  const r = await c.renew();
  assert.is.not(r.fingerprint, before);
  assert.is((await admin<Device>(ctx.d, "GetDevice", { id })).certificateFingerprint, r.fingerprint);
  assert.is.not(readFileSync(`${dir}/tls.key`, "utf8"), readFileSync(`${old}/tls.key`, "utf8"), "rekeyed");
  // the same stream still takes work: no reconnect happened
  const j = await dispatch({ deviceId: id, capability: "echo", input: Buffer.from('"still here"') });
  assert.equal(out(await finalJob(j.id)), "still here");
  assert.is(registrations, 1);
  // the old certificate is accepted during the overlap (the stream waits for registration) ...
  let s = await rawNodeStream(ctx.d.listen, old);
  let end = await streamEnd(s.stream);
  s.close();
  assert.is(end.code, status.DEADLINE_EXCEEDED, `old certificate within the overlap: ${end.details}`);
  // ... and refused after it
  offset = 3 * 60_000;
  try {
    s = await rawNodeStream(ctx.d.listen, old);
    end = await streamEnd(s.stream);
    s.close();
    assert.is(end.code, status.UNAUTHENTICATED);
  } finally {
    offset = 0;
  }
  const types = (await admin<{ entries: { type: string; subject: string }[] }>(ctx.d, "ListAudit", { since: 0, limit: 0 })).entries;
  assert.ok(types.some((e) => e.type === "certificate.renewed" && e.subject === id));

  // a renewal not signed by the identity key is refused
  const raw = await rawNodeClient(ctx.d.listen, dir);
  const renewRaw = (req: object) => new Promise<unknown>((res, rej) => raw.Renew(req, new Metadata(), {}, (e, x) => (e ? rej(e) : res(x))));
  const spki = createPublicKey(readFileSync(`${dir}/tls.key`, "utf8")).export({ type: "spki", format: "der" });
  const e1 = (await renewRaw({ tlsPublicKey: spki, timestamp: Date.now(), signature: new Uint8Array(64), keyProof: new Uint8Array(70) }).catch((e: unknown) => e)) as ServiceError;
  assert.is(e1.code, status.UNAUTHENTICATED);
  assert.match(e1.details, /not signed by this device's identity key/);
  // an expired certificate cannot renew itself
  offset = 25 * 3_600_000;
  try {
    const e2 = (await renewRaw({ tlsPublicKey: spki, timestamp: now(), signature: new Uint8Array(64) }).catch((e: unknown) => e)) as ServiceError;
    assert.is(e2.code, status.UNAUTHENTICATED);
    assert.match(e2.details, /returns by its identity key \(Pairing\.Return/);
  } finally {
    offset = 0;
  }
  // a revoked device cannot renew
  await admin(ctx.d, "RevokeDevice", { id, reason: "renewal test" });
  const e3 = (await renewRaw({ tlsPublicKey: spki, timestamp: Date.now(), signature: new Uint8Array(64) }).catch((e: unknown) => e)) as ServiceError;
  assert.is(e3.code, status.UNAUTHENTICATED);
  raw.close();
});

F("devices rotate: a connected node renews at once; an offline one when it comes back", async () => {
  const dir = `${ctx.tmp.path}/rotor`;
  const id = await pairDevice(ctx.d, dir, { name: "rotor" });
  const fp = async () => (await admin<Device>(ctx.d, "GetDevice", { id })).certificateFingerprint;
  const first = await fp();
  const c = await startNode(dir, { x: () => 1 });
  const renewed = new Promise((r) => c.once("renewed", r));
  const now1 = await admin<{ sentNow: boolean }>(ctx.d, "RotateDevice", { id });
  assert.ok(now1.sentNow);
  await renewed;
  const second = await fp();
  assert.is.not(second, first);
  await c.close();
  const later = await admin<{ sentNow: boolean }>(ctx.d, "RotateDevice", { id });
  assert.not.ok(later.sentNow);
  const back = connect(dir);
  back.handle("x", () => 1);
  ctx.conns.push(back);
  const renewedAgain = new Promise((r) => back.once("renewed", r));
  await back.start();
  await renewedAgain;
  assert.is.not(await fp(), second);
});

F("the daemon's server and signer certificates rotate under live traffic", async () => {
  const dir = `${ctx.tmp.path}/live`;
  const id = await pairDevice(ctx.d, dir, { name: "live" });
  let registrations = 0;
  const c = connect(dir);
  c.handle("echo", (x) => x);
  c.on("registered", () => registrations++);
  ctx.conns.push(c);
  await c.start();
  const served = async () => {
    const [host, port] = ctx.d.listen.split(":") as [string, string];
    const sock = tls.connect({ host, port: Number(port), rejectUnauthorized: false, servername: "localhost" });
    await once(sock, "secureConnect");
    const pc = sock.getPeerCertificate(true);
    sock.destroy();
    return pc.raw;
  };
  const before = await served();
  const r = await ctx.d.checkCertificates(true);
  assert.equal(r, { server: true, signer: true });
  const after = await served();
  assert.not.ok(before.equals(after), "new connections get the new server certificate");
  assert.ok(new X509Certificate(after).verify(new X509Certificate(ctx.d.caPem).publicKey), "issued by the same CA");
  // the open stream carried on, and pairing works with the new signer
  const j = await dispatch({ deviceId: id, capability: "echo", input: Buffer.from("1") });
  assert.is((await finalJob(j.id)).state, "succeeded");
  assert.is(registrations, 1, "no reconnect");
  await pairDevice(ctx.d, `${ctx.tmp.path}/after-rotation`, { name: "after" });
  // and the check is a no-op when nothing is near expiry
  assert.equal(await ctx.d.checkCertificates(), { server: false, signer: false });
});

F("a renewal racing a revoke: the revoke wins and no certificate is issued after it", async () => {
  const dir = `${ctx.tmp.path}/racer`;
  const id = await pairDevice(ctx.d, dir, { name: "racer" });
  const c = await startNode(dir, { x: () => 1 });
  c.on("fatal", () => undefined);
  const revoke = admin<Device>(ctx.d, "RevokeDevice", { id, reason: "race" });
  const renewal = c.renew().then(
    (r) => r.fingerprint,
    (e: Error) => e,
  );
  const [rev, ren] = await Promise.all([revoke, renewal]);
  const after = await admin<Device>(ctx.d, "GetDevice", { id });
  if (typeof ren === "string") {
    // the renewal was serialized before the revoke: its certificate exists but is revoked too
    assert.is(after.certificateFingerprint, ren);
  }
  assert.ok(rev.revokedAt > 0 && after.revokedAt > 0);
  // whichever certificate the node holds now, it is refused: nothing usable was issued after the revoke
  const { stream, close } = await rawNodeStream(ctx.d.listen, dir);
  const end = await streamEnd(stream);
  close();
  assert.is(end.code, status.UNAUTHENTICATED);
  if (ren instanceof Error) assert.match(ren.message, /revoked|not connected|refused|CANCELLED|UNAVAILABLE/);
});

F("certificates from another CA, expired ones, and revoked ones are refused", async () => {
  // another daemon's node
  const other = await startTestDaemon();
  try {
    await pairDevice(other, `${ctx.tmp.path}/alien`, { name: "alien" });
    // It trusts our daemon's CA (so TLS completes) but presents the other CA's certificate.
    const { stream, close } = await rawNodeStream(ctx.d.listen, `${ctx.tmp.path}/alien`, ctx.d.caPem);
    const end = await streamEnd(stream);
    close();
    assert.is(end.code, status.UNAUTHENTICATED);
    assert.match(end.details, /not a current certificate|not from this daemon.s CA/, end.details);
  } finally {
    await other.stop();
  }
  // expired: move the daemon's clock past the 24 h certificate lifetime
  offset = 25 * 3_600_000;
  try {
    const { stream, close } = await rawNodeStream(ctx.d.listen, `${ctx.tmp.path}/node`);
    const end = await streamEnd(stream);
    close();
    assert.is(end.code, status.UNAUTHENTICATED);
    assert.match(end.details, /expired/);
  } finally {
    offset = 0;
  }
});

F("revoking a device ends its stream within a second, refuses it from then on, and blocks re-pairing until cleared", async () => {
  const dir = `${ctx.tmp.path}/node6`;
  const id = await pairDevice(ctx.d, dir, { name: "doomed" });
  const c = await startNode(dir, { work: () => new Promise(() => {}) });
  const j = await dispatch({ deviceId: id, capability: "work", timeoutMs: 30_000 });
  await waitFor(async () => (await getJob(j.id)).state === "running", "job running");
  const fatal = new Promise<{ at: number; err: Error }>((r) => c.once("fatal", (err: Error) => r({ at: Date.now(), err })));
  const t0 = Date.now();
  const revoked = await admin<Device>(ctx.d, "RevokeDevice", { id, reason: "stolen" });
  const answered = Date.now();
  assert.ok(revoked.revokedAt > 0);
  const f = await fatal;
  const ms = f.at - answered;
  console.log(`    revoke answered in ${answered - t0} ms; stream ended ${ms} ms after the answer`);
  assert.ok(f.at - t0 < 1000, `stream ended ${f.at - t0} ms after revoke`);
  assert.is((f.err as NodeError).code, "REVOKED");
  assert.match(f.err.message, new RegExp(`an admin must run \`tether devices unrevoke ${id}\``));
  assert.match((f.err.cause as Error).message, /PERMISSION_DENIED.*revoked/);
  const job = await getJob(j.id);
  assert.is(job.state, "failed");
  assert.match(job.error, /revoked: stolen/);

  // reconnecting with the revoked certificate: refused on the first call
  for (let i = 0; i < 3; i++) {
    const { stream, close } = await rawNodeStream(ctx.d.listen, dir);
    const end = await streamEnd(stream);
    close();
    assert.is(end.code, status.UNAUTHENTICATED);
  }
  // dispatching to it is refused
  await dispatch({ deviceId: id, capability: "work" }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /revoked/),
  );
  const listed = await rpc<{ nodes: { deviceId: string }[] }>("Orchestrator", local(), "ListNodes", { capability: "", online: "" });
  assert.not.ok(
    listed.nodes.some((n) => n.deviceId === id),
    "revoked devices are not listed to orchestrators",
  );

  // it cannot pair again with the same identity until an admin clears it
  const { loadOrCreateIdentity } = await import("@tether/node");
  const ident = loadOrCreateIdentity(dir);
  const code = await mintCode(ctx.d);
  const pc = rawPairing(ctx.d.listen);
  try {
    const keys = {
      seed: new Uint8Array(),
      identityKey: ident.publicKey,
      secretKey: ident.secretKey.expose(),
      tlsPublicKey: (await import("@tether/node")).loadOrCreateTlsKey(dir).spkiDer,
    };
    const e = (await handshakeStart(pc, pinParts(code.code), keys).catch((x: unknown) => x)) as ServiceError;
    assert.is(e.code, status.PERMISSION_DENIED);
    assert.match(e.details, /revoked/);
  } finally {
    pc.close();
  }
  const { copyFileSync } = await import("node:fs");
  copyFileSync(`${dir}/cert.pem`, `${ctx.tmp.path}/revoked-cert.pem`);
  await admin(ctx.d, "ClearRevocation", { id });
  const back = await pairDevice(ctx.d, dir, { name: "forgiven" });
  assert.is(back, id);
  // The new certificate works; the one from before the revocation stays refused.
  const fresh = await startNode(dir, { work: () => "ok" });
  assert.is(fresh.deviceId, id);
  // (presented directly: the state directory itself would put its current certificate back, node-state.test.ts)
  const { readFileSync } = await import("node:fs");
  const read = (f: string) => readFileSync(`${dir}/${f}`, "utf8");
  const old = await rawNodeClient(ctx.d.listen, { caPem: read("ca.pem"), keyPem: read("tls.key"), certPem: readFileSync(`${ctx.tmp.path}/revoked-cert.pem`, "utf8") });
  const end = await streamEnd(old.Connect());
  old.close();
  assert.is(end.code, status.UNAUTHENTICATED, "the pre-revocation certificate is still refused");
});

F.run();
