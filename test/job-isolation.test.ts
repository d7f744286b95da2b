/**
 * Jobs are isolated between orchestrators (docs/fleet.md 6.1), against a real daemon: a node
 * and orchestrators paired through the real handshake, calling over mutual TLS. An
 * orchestrator sees, watches and cancels only the jobs it dispatched; an admin grant (all, or
 * the jobs of devices with given labels) widens that, at approval or later, shown by
 * `devices show` and audited; taking it away ends it. The admin socket sees every job.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Metadata, status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { connect, orchestrator } from "@tether/node";
import type { NodeConnection, OrchestratorClient } from "@tether/node";
import { JOB_TABLES } from "@tether/jobs";
import type { JobRecord, JobTables } from "@tether/jobs";
import { PAIRING_TABLES } from "@tether/pairing";
import type { PairingTables } from "@tether/pairing";
import { Store } from "@tether/store";
import type { Device, Job } from "@tether/wire";
import { rpc } from "../packages/cli/src/cli.ts";
import { cliInProcess, expectStatus, mintCode, pairDevice, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

type Who = "a" | "b" | "c";
const ctx = {} as {
  tmp: ReturnType<typeof tempDir>;
  d: TestDaemon;
  node: string;
  ids: Record<Who, string>;
  clients: Partial<Record<Who, OrchestratorClient>>;
  conn: NodeConnection;
  /** A's long job, on the node */
  held: Job;
  /** B's job under the key A used too */
  bJob: Job;
};
const T = suite("job isolation between orchestrators");

const dirOf = (who: Who | "node") => join(ctx.tmp.path, who);
const start = (listen?: string) => startTestDaemon({ dataDir: join(ctx.tmp.path, "data"), ...(listen ? { listen } : {}) });

function client(who: Who): OrchestratorClient {
  return (ctx.clients[who] ??= orchestrator(dirOf(who), ctx.d.listen));
}

/** One unary Orchestrator call as orchestrator `who` over mutual TLS, or as the admin over the socket. */
function call<T>(who: Who | "admin", method: "Dispatch" | "Run" | "GetJob" | "CancelJob" | "ListJobs", req: object): Promise<T> {
  if (who === "admin") return rpc<T>("Orchestrator", { kind: "socket", dataDir: ctx.d.dataDir }, method, req);
  const o = client(who);
  return new Promise<T>((res, rej) => o[method](req, new Metadata(), { deadline: Date.now() + 15_000 }, (e, r) => (e ? rej(e) : res(r as T))));
}

const dispatch = (who: Who | "admin", req: object) => call<Job>(who, "Dispatch", { timeoutMs: 60_000, idempotencyKey: "", input: Buffer.from("null"), deviceId: ctx.node, ...req });
const get = (who: Who | "admin", id: string) => call<Job>(who, "GetJob", { id });
const listIds = async (who: Who | "admin", req: object = {}) =>
  (await call<{ jobs: Job[] }>(who, "ListJobs", { deviceId: "", state: "", limit: 1000, ...req })).jobs.map((j) => j.id);

/** WatchJob as `who`: the messages, and then how the stream ended. */
function watch(who: Who, id: string) {
  const s = client(who).WatchJob({ id });
  const seen: Job[] = [];
  s.on("data", (j: Job) => seen.push(j));
  const end = new Promise<{ code: number; details: string }>((resolve) => {
    s.on("error", (e: ServiceError) => resolve({ code: e.code, details: e.details }));
    s.on("end", () => resolve({ code: status.OK, details: "" }));
  });
  return { seen, end, cancel: () => s.cancel() };
}

/** The CLI, in this process (a child process costs seconds on a loaded machine), against the test daemon. */
const tether = (args: string[]) => cliInProcess([...args, "--data-dir", ctx.d.dataDir]);

async function showDevice(id: string): Promise<Device> {
  const r = await tether(["devices", "show", id, "--json"]);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Device;
}

async function scopeAudit(): Promise<{ actor: string; subject: string; details: { scope: string; previous: string } }[]> {
  const r = await tether(["audit", "--limit", "1000", "--json"]);
  assert.is(r.code, 0, r.stderr);
  const entries = JSON.parse(r.stdout) as { type: string; actor: string; subject: string; details: unknown }[];
  return entries
    .filter((e) => e.type === "device.job_scope_changed")
    .map((e) => ({ actor: e.actor, subject: e.subject, details: (typeof e.details === "string" ? JSON.parse(e.details) : e.details) as { scope: string; previous: string } }));
}

T.before(async () => {
  ctx.tmp = tempDir();
  ctx.clients = {};
  ctx.d = await start();
  ctx.node = await pairDevice(ctx.d, dirOf("node"), { name: "worker" });
  ctx.ids = {
    a: await pairDevice(ctx.d, dirOf("a"), { role: "orchestrator", name: "team-a" }),
    b: await pairDevice(ctx.d, dirOf("b"), { role: "orchestrator", name: "team-b" }),
    c: "",
  };
  ctx.conn = connect(dirOf("node"), { maxConcurrency: 8 });
  ctx.conn.handle("echo", (x) => ({ got: x }));
  ctx.conn.handle("hold", (_x, k) => new Promise((r) => k.signal.addEventListener("abort", () => r(null))));
  await ctx.conn.start();
});

T.after(async () => {
  for (const c of Object.values(ctx.clients)) c?.close();
  await ctx.conn.close();
  await ctx.d.stop();
  ctx.tmp.remove();
});

T("another orchestrator's job does not exist for it: GetJob, WatchJob, CancelJob, ListJobs, its idempotency key, Run", async () => {
  ctx.held = await dispatch("a", { capability: "hold", idempotencyKey: "shared-key" });
  assert.is(ctx.held.dispatchedBy, ctx.ids.a);
  await waitFor(async () => (await get("a", ctx.held.id)).state === "running", "A's job running");

  const unknown = await expectStatus(get("b", "job_000000000000000000000000"), status.NOT_FOUND);
  const hidden = await expectStatus(get("b", ctx.held.id), status.NOT_FOUND);
  // the same answer as for a job that does not exist: nothing tells B that it does
  assert.is(hidden, unknown.replace("job_000000000000000000000000", ctx.held.id));
  assert.is(hidden, `JOB_NOT_FOUND: no job ${ctx.held.id}`);

  const w = watch("b", ctx.held.id);
  const end = await w.end;
  assert.is(end.code, status.NOT_FOUND);
  assert.equal(w.seen, [], "not one message about A's job");

  await expectStatus(call("b", "CancelJob", { id: ctx.held.id, reason: "B tries" }), status.NOT_FOUND);
  for (const filter of [{}, { deviceId: ctx.node }, { state: "running" }]) {
    assert.not.ok((await listIds("b", filter)).includes(ctx.held.id), `B's ListJobs ${JSON.stringify(filter)} leaves A's job out`);
  }

  // B's use of A's key is B's own: it neither gets A's job nor is refused
  ctx.bJob = await dispatch("b", { capability: "echo", idempotencyKey: "shared-key", input: Buffer.from("2") });
  assert.is.not(ctx.bJob.id, ctx.held.id);
  assert.is(ctx.bJob.dispatchedBy, ctx.ids.b);
  const ran = await call<Job>("b", "Run", { deviceId: ctx.node, capability: "echo", input: Buffer.from("3"), timeoutMs: 10_000, idempotencyKey: "shared-key" });
  assert.is(ran.id, ctx.bJob.id, "Run with the key answers with B's job");
  assert.is(ran.state, "succeeded");
  assert.equal(JSON.parse(Buffer.from(ran.output).toString()), { got: 2 });

  // A's job is as A left it, and A sees only its own
  const a = await get("a", ctx.held.id);
  assert.is(a.state, "running");
  assert.is(a.attempts, 1);
  assert.is(a.error, "");
  assert.is((await dispatch("a", { capability: "hold", idempotencyKey: "shared-key" })).id, ctx.held.id, "A's key still names A's job");
  const aList = await listIds("a");
  assert.ok(aList.includes(ctx.held.id));
  assert.not.ok(aList.includes(ctx.bJob.id), "A does not see B's job either");
  await expectStatus(get("a", ctx.bJob.id), status.NOT_FOUND);

  // the admin socket sees both
  const all = await listIds("admin");
  assert.ok(all.includes(ctx.held.id) && all.includes(ctx.bJob.id));
  assert.is((await get("admin", ctx.held.id)).dispatchedBy, ctx.ids.a);
  assert.is((await get("admin", ctx.bJob.id)).dispatchedBy, ctx.ids.b);
});

T("a grant of all lets B see and watch A's jobs; shown and audited; ungrant takes it away, also from an open watch", async () => {
  assert.is((await showDevice(ctx.ids.b)).jobScope?.kind, "own");
  const g = await tether(["devices", "grant", ctx.ids.b, "--jobs", "all", "--json"]);
  assert.is(g.code, 0, g.stderr);
  assert.equal((JSON.parse(g.stdout) as Device).jobScope, { kind: "all", labels: {} });
  assert.equal((await showDevice(ctx.ids.b)).jobScope, { kind: "all", labels: {} });
  const human = await tether(["devices", "show", ctx.ids.b]);
  assert.match(human.stdout, /\n {2}jobs: +all\n/);

  assert.is((await get("b", ctx.held.id)).state, "running");
  assert.ok((await listIds("b")).includes(ctx.held.id));
  assert.ok((await listIds("b", { deviceId: ctx.node })).includes(ctx.held.id));

  // a watch opened under the grant, then the grant is taken away
  const second = await dispatch("a", { capability: "hold" });
  const w = watch("b", second.id);
  await waitFor(() => w.seen.length > 0, "B's first watch message");
  assert.is(w.seen[0]?.id, second.id);
  const u = await tether(["devices", "ungrant", ctx.ids.b, "--json"]);
  assert.is(u.code, 0, u.stderr);
  assert.is((JSON.parse(u.stdout) as Device).jobScope?.kind, "own");
  assert.match((await tether(["devices", "show", ctx.ids.b])).stdout, /\n {2}jobs: +own\n/);

  await expectStatus(get("b", ctx.held.id), status.NOT_FOUND);
  await expectStatus(call("b", "CancelJob", { id: ctx.held.id, reason: "" }), status.NOT_FOUND);
  assert.not.ok((await listIds("b")).includes(ctx.held.id));
  // A cancels its second job: B's open stream ends without seeing the change
  const before = w.seen.length;
  assert.is((await call<Job>("a", "CancelJob", { id: second.id, reason: "done" })).state, "cancelled");
  const end = await w.end;
  assert.is(end.code, status.NOT_FOUND);
  assert.ok(
    w.seen.slice(before).every((j) => j.state !== "cancelled"),
    "B never saw the cancelled state",
  );

  const audit = (await scopeAudit()).filter((e) => e.subject === ctx.ids.b);
  assert.equal(audit, [
    { actor: "admin", subject: ctx.ids.b, details: { scope: "all", previous: "own" } },
    { actor: "admin", subject: ctx.ids.b, details: { scope: "own", previous: "all" } },
  ]);
  // ungranting what is not granted changes nothing and records nothing
  assert.is((await tether(["devices", "ungrant", ctx.ids.b])).code, 0);
  assert.is((await scopeAudit()).length, 2);
});

T("a label scope covers the jobs of devices carrying the labels: B cancels A's job there", async () => {
  const g = await tether(["devices", "grant", ctx.ids.b, "--jobs", "site=berlin"]);
  assert.is(g.code, 0, g.stderr);
  assert.match(g.stdout, /jobs site=berlin/);
  assert.equal((await showDevice(ctx.ids.b)).jobScope, { kind: "labels", labels: { site: "berlin" } });
  // the node has no labels yet
  await expectStatus(get("b", ctx.held.id), status.NOT_FOUND);
  assert.is((await tether(["devices", "label", ctx.node, "site=paris"])).code, 0);
  await expectStatus(get("b", ctx.held.id), status.NOT_FOUND);
  assert.is((await tether(["devices", "label", ctx.node, "site=berlin"])).code, 0);
  assert.is((await get("b", ctx.held.id)).state, "running");
  const bList = await listIds("b");
  assert.ok(bList.includes(ctx.held.id) && bList.includes(ctx.bJob.id), "A's job on the berlin node, and B's own");

  const c = await call<Job>("b", "CancelJob", { id: ctx.held.id, reason: "team b stops it" });
  assert.is(c.state, "cancelled");
  const a = await get("a", ctx.held.id);
  assert.is(a.state, "cancelled");
  assert.is(a.error, "team b stops it");
  assert.equal(
    (await scopeAudit()).filter((e) => e.subject === ctx.ids.b).map((e) => e.details.scope),
    ["all", "own", "site=berlin"],
  );
});

T("refusals change nothing: a grant for a node-role device, a bad scope, an unknown device, --jobs for a node", async () => {
  const audited = (await scopeAudit()).length;
  const node = await tether(["devices", "grant", ctx.node, "--jobs", "all", "--json"]);
  assert.is(node.code, 2);
  assert.match(node.stderr, /only an orchestrator/);
  assert.is((await showDevice(ctx.node)).jobScope?.kind, "own");
  const syntax = await tether(["devices", "grant", ctx.ids.b, "--jobs", "berlin"]);
  assert.is(syntax.code, 2);
  assert.match(syntax.stderr, /--jobs must be own\|all\|KEY=VALUE/);
  const bad = await tether(["devices", "grant", ctx.ids.b, "--jobs", "Site=Berlin"]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /must match/);
  assert.is((await tether(["devices", "grant", ctx.ids.b])).code, 2, "--jobs is required");
  assert.is((await tether(["devices", "grant", "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", "--jobs", "all"])).code, 4);
  assert.is((await tether(["pair", "approve", "req_000000000000000000000000", "--role", "node", "--jobs", "all"])).code, 2);
  assert.equal((await showDevice(ctx.ids.b)).jobScope, { kind: "labels", labels: { site: "berlin" } });
  assert.is((await scopeAudit()).length, audited);
});

T("approved with --jobs all, an orchestrator sees every job from its first call; a new pairing does not inherit the grant", async () => {
  const { pair } = await import("@tether/node");
  const code = await mintCode(ctx.d);
  let approved: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
  const refused = new AbortController(); // the node stops waiting if the approval fails
  const paired = pair({
    daemon: ctx.d.listen,
    pin: code.code,
    name: "ops",
    role: "orchestrator",
    stateDir: dirOf("c"),
    signal: refused.signal,
    onVerificationCode: (_c, info) => {
      approved = tether(["pair", "approve", info.requestId, "--jobs", "all"]);
      void approved.then((r) => r.code !== 0 && refused.abort());
    },
  }).catch((e: unknown) => e);
  const done = await paired;
  const ap = await (approved as NonNullable<typeof approved>);
  assert.is(ap.code, 0, ap.stderr);
  assert.not.instance(done, Error);
  assert.match(ap.stdout, /as orchestrator\n.*\n {2}jobs: all\n/);
  ctx.ids.c = (done as { deviceId: string }).deviceId;
  assert.equal((await showDevice(ctx.ids.c)).jobScope, { kind: "all", labels: {} });
  assert.is((await get("c", ctx.held.id)).dispatchedBy, ctx.ids.a);
  assert.ok((await listIds("c")).includes(ctx.bJob.id));
  assert.equal(
    (await scopeAudit()).filter((e) => e.subject === ctx.ids.c),
    [{ actor: "admin", subject: ctx.ids.c, details: { scope: "all", previous: "own" } }],
  );

  // the same device pairs again, approved without --jobs: own jobs only
  ctx.clients.c?.close();
  delete ctx.clients.c;
  assert.is(await pairDevice(ctx.d, dirOf("c"), { role: "orchestrator", name: "ops" }), ctx.ids.c);
  assert.is((await showDevice(ctx.ids.c)).jobScope?.kind, "own");
  await expectStatus(get("c", ctx.held.id), status.NOT_FOUND);
  assert.equal(
    (await scopeAudit()).filter((e) => e.subject === ctx.ids.c).map((e) => e.details),
    [
      { scope: "all", previous: "own" },
      { scope: "own", previous: "all" },
    ],
  );
});

T("a store from before the owner index is indexed at start; a job with no owner is nobody's own", async () => {
  const legacy: JobRecord = {
    id: "job_000000000001aaaaaaaaaaaa",
    deviceId: ctx.node,
    capability: "echo",
    state: "succeeded",
    input: "1",
    output: "1",
    createdAt: Date.now() - 1000,
    deadline: Date.now() + 60_000,
    updatedAt: Date.now() - 500,
    attempts: 1,
  } as unknown as JobRecord; // no dispatchedBy
  const listen = ctx.d.listen;
  for (const c of Object.values(ctx.clients)) c?.close();
  ctx.clients = {};
  await ctx.d.stop();
  const s = await Store.open<PairingTables & JobTables>(join(ctx.tmp.path, "data", "store"), [...PAIRING_TABLES, ...JOB_TABLES]);
  try {
    assert.ok(await s.get("ownerJobs", `${ctx.ids.a}/${ctx.held.id}`), "dispatch wrote the owner index");
    // as a store written before the owner index, with one job that has no owner
    await s.batch([
      { table: "jobsMeta", type: "del", key: "ownerIndex" },
      ...(await s.list("ownerJobs")).map((o) => ({ table: "ownerJobs" as const, type: "del" as const, key: o.id })),
      { table: "jobs", type: "put", value: legacy },
    ]);
  } finally {
    await s.close();
  }
  ctx.d = await start(listen);

  const aList = await listIds("a");
  assert.ok(aList.includes(ctx.held.id), "A lists its jobs through the rebuilt index");
  assert.not.ok(aList.includes(legacy.id));
  await expectStatus(get("a", legacy.id), status.NOT_FOUND);
  await expectStatus(call("a", "CancelJob", { id: legacy.id, reason: "" }), status.NOT_FOUND);
  assert.ok((await listIds("admin")).includes(legacy.id));
  assert.is((await get("admin", legacy.id)).dispatchedBy, "");
  // a grant that covers its device covers it (B: site=berlin, the node is in berlin)
  assert.is((await get("b", legacy.id)).id, legacy.id);
  assert.ok((await listIds("b")).includes(legacy.id));
});

T.run();
