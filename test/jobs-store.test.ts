/**
 * The job store at scale and over time, against a real daemon and LevelDB: only unfinished
 * jobs are loaded at start (an index of their ids, rebuilt once for an older store), jobs of a
 * device revoked before the daemon could fail them are failed at start, finished jobs are
 * deleted after their retention, idempotency holds under concurrent dispatches (writes are
 * pipelined), and listing reads newest first without reading every job.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@tether/node";
import { JOB_TABLES } from "@tether/jobs";
import type { JobRecord, JobTables } from "@tether/jobs";
import { PAIRING_TABLES } from "@tether/pairing";
import type { PairingTables } from "@tether/pairing";
import { Store } from "@tether/store";
import type { Job } from "@tether/wire";
import { rpc } from "../packages/cli/src/cli.ts";
import { pairDevice, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

let offset = 0;
const now = () => Date.now() + offset;
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; a: string; b: string };
const J = suite("job store");
const HOUR = 3_600_000;

const start = () => startTestDaemon({ dataDir: join(ctx.tmp.path, "data"), now, jobs: { finishedRetentionMs: HOUR } });
const target = () => ({ kind: "socket" as const, dataDir: ctx.d.dataDir });
const dispatch = (deviceId: string, extra: object = {}) =>
  rpc<Job>("Orchestrator", target(), "Dispatch", { deviceId, capability: "echo", input: Buffer.from("1"), timeoutMs: 10 * HOUR, idempotencyKey: "", ...extra });

/** Pair a device, let it announce "echo", then disconnect it: its jobs wait in the queue. */
async function offlineDevice(name: string): Promise<string> {
  const dir = join(ctx.tmp.path, name);
  const id = await pairDevice(ctx.d, dir, { name });
  const c = connect(dir);
  c.handle("echo", (x) => x);
  await c.start();
  await c.close();
  await waitFor(() => !ctx.d.hub.isOnline(id), "offline");
  return id;
}

async function withStore(fn: (s: Store<PairingTables & JobTables>) => Promise<void>) {
  await ctx.d.stop();
  const s = await Store.open<PairingTables & JobTables>(join(ctx.d.dataDir, "store"), [...PAIRING_TABLES, ...JOB_TABLES]);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
  ctx.d = await start();
}

J.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await start();
  ctx.a = await offlineDevice("a");
  ctx.b = await offlineDevice("b");
});
J.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

J("concurrent dispatches with the same idempotency keys make one job per key", async () => {
  const all = await Promise.all(Array.from({ length: 60 }, (_, i) => dispatch(ctx.a, { idempotencyKey: `k${i % 6}` })));
  const ids = new Set(all.map((j) => j.id));
  assert.is(ids.size, 6, `six keys, six jobs (got ${ids.size})`);
  for (let k = 0; k < 6; k++) assert.is(new Set(all.filter((_, i) => i % 6 === k).map((j) => j.id)).size, 1);
});

J("listing is newest first, per device across pages, and never mixes devices", async () => {
  for (let i = 0; i < 300; i++) await dispatch(ctx.a);
  const mine: string[] = [];
  for (let i = 0; i < 8; i++) mine.push((await dispatch(ctx.b)).id);
  const b = await rpc<{ jobs: Job[] }>("Orchestrator", target(), "ListJobs", { deviceId: ctx.b, state: "", limit: 5 });
  assert.equal(
    b.jobs.map((j) => j.id),
    mine.slice(-5).reverse(),
    "the five newest of b, newest first",
  );
  const all = await rpc<{ jobs: Job[] }>("Orchestrator", target(), "ListJobs", { deviceId: "", state: "", limit: 1000 });
  assert.ok(all.jobs.length >= 314);
  const created = all.jobs.map((j) => Number(j.createdAt));
  assert.equal(
    created,
    [...created].sort((x, y) => y - x),
    "newest first",
  );
  const aOnly = await rpc<{ jobs: Job[] }>("Orchestrator", target(), "ListJobs", { deviceId: ctx.a, state: "queued", limit: 1000 });
  assert.ok(aOnly.jobs.length >= 300 && aOnly.jobs.every((j) => j.deviceId === ctx.a && j.state === "queued"));
});

J("a restart loads only the open jobs; an older store without the index is indexed once", async () => {
  const open = await dispatch(ctx.a);
  const done = await dispatch(ctx.b);
  await rpc("Orchestrator", target(), "CancelJob", { id: done.id, reason: "finished for the test" });
  await withStore(async (s) => {
    assert.ok(await s.get("openJobs", open.id), "the open job is indexed");
    assert.not.ok(await s.get("openJobs", done.id), "the finished one is not");
    // an older store: no index at all
    await s.batch([
      { table: "jobsMeta", type: "del", key: "openIndex" },
      ...(await s.list("openJobs")).map((o) => ({ table: "openJobs" as const, type: "del" as const, key: o.id })),
    ]);
  });
  const again = await rpc<Job>("Orchestrator", target(), "GetJob", { id: open.id });
  assert.is(again.state, "queued", "the open job survived the restart");
  await withStore(async (s) => {
    assert.ok(await s.get("jobsMeta", "openIndex"), "the index was rebuilt");
    assert.ok(await s.get("openJobs", open.id));
    assert.not.ok(await s.get("openJobs", done.id));
  });
  assert.is((await rpc<Job>("Orchestrator", target(), "GetJob", { id: open.id })).state, "queued");
});

J("a device revoked before the daemon could fail its jobs: they fail at the next start", async () => {
  const j = await dispatch(ctx.b);
  await withStore(async (s) => {
    // the revocation was written, the crash came before its jobs were failed
    const dev = (await s.get("devices", ctx.b)) as PairingTables["devices"];
    await s.batch([{ table: "devices", type: "put", value: { ...dev, revokedAt: now(), revokeReason: "lost" } }]);
  });
  const after = await rpc<Job>("Orchestrator", target(), "GetJob", { id: j.id });
  assert.is(after.state, "failed");
  assert.match(after.error, /revoked/);
});

J("finished jobs are deleted after their retention; open ones are kept", async () => {
  const open = await dispatch(ctx.a);
  const done = await dispatch(ctx.a, { idempotencyKey: "once" });
  await rpc("Orchestrator", target(), "CancelJob", { id: done.id, reason: "finished" });
  offset += 2 * HOUR;
  try {
    let deleted = 0;
    for (let more = true; more;) {
      const r = await ctx.d.jobs.sweepFinished();
      deleted += r.deleted;
      more = r.more;
    }
    assert.ok(deleted >= 1, `deleted ${deleted}`);
    const gone = await ctx.d.jobs.get(done.id).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    assert.is(gone?.code, "JOB_NOT_FOUND", "the finished job is gone");
    assert.is((await rpc<Job>("Orchestrator", target(), "GetJob", { id: open.id })).state, "queued", "an open job is never deleted");
    // its idempotency key went with it: the same key makes a new job
    const again = await dispatch(ctx.a, { idempotencyKey: "once" });
    assert.is.not(again.id, done.id);
    const left = (await rpc<{ jobs: Job[] }>("Orchestrator", target(), "ListJobs", { deviceId: ctx.a, state: "cancelled", limit: 1000 })).jobs;
    assert.not.ok(left.some((j: Job) => j.id === done.id));
  } finally {
    offset = 0;
  }
});

J("job ids sort by creation time", async () => {
  const x = await dispatch(ctx.a);
  await new Promise((r) => setTimeout(r, 3));
  const y = await dispatch(ctx.a);
  assert.ok(x.id < y.id, `${x.id} < ${y.id}`);
  assert.match(x.id, /^job_[0-9a-f]{24}$/);
  const rec = { id: x.id } as JobRecord;
  assert.ok(rec.id.length === 28);
});

J.run();
