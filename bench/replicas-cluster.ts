/**
 * The cluster part of `npm run bench -- --only replicas` (docs/scaling.md, "Replicas"): three
 * daemons on one PostgreSQL (A active, B and C `--replica`), nodes and orchestrators spread
 * over all three, beside the single embedded daemon (LevelDB) doing the same work in the same
 * run:
 *
 * - dispatch: Orchestrator.Run round trips to 51 nodes (17 on each daemon), at 1 and at 64 in
 *   flight, from three orchestrator channels (one to each daemon), jobs spread round robin
 *   over the nodes, so two in three cross from one daemon to another; p50, p99 and jobs/s.
 *   Also the active daemon alone on PostgreSQL (everything connected to A): what the database
 *   costs, apart from the forwarding.
 * - revocation: 1,000 nodes spread over A, B and C; 100 of them revoked one after another,
 *   each on the admin socket of a daemon other than the one holding its stream; from the call
 *   to the stream's end in the node's client process (CLOCK_MONOTONIC), and whether a new
 *   connection with the revoked certificate is refused on its first call.
 * - failover: the 900 nodes not revoked, all through B, each with a job delivered and not yet answered;
 *   kill -9 of B; the nodes reconnect to C at once (as `node run --daemon B,C` does after the
 *   first failure) and answer the jobs delivered again. From the kill until every node is
 *   registered again, and until every one of their jobs has succeeded. Then kill -9 of the
 *   active with the nodes spread over the replicas: until a replica has taken over and every
 *   node is registered again (reconnecting to its own address, which answers once the new
 *   active is found). Baseline: the same nodes connecting to a running replica.
 *
 * The PostgreSQL server is test/postgres.ts's throw-away one on this machine (Unix socket) with
 * fsync on, so its durable commits cost what LevelDB's do; each repetition gets a new database
 * (`tether store migrate` of the seeded LevelDB data directory), as the single daemon gets a
 * new copy of that directory.
 */
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { startPostgres } from "../test/postgres.ts";
import type { TestPostgres } from "../test/postgres.ts";
import type { BenchContext, Row } from "./harness.ts";
import { monoMs, pct, ranges, repsOf, row, sleep, startDaemonProcess, tetherCli } from "./harness.ts";
import type { DaemonProcess } from "./harness.ts";
import { adminClient, orchestratorClient } from "./clients.ts";
import type { Rpc } from "./clients.ts";
import { startFleet } from "./fleet.ts";
import type { Fleet } from "./fleet.ts";
import { revokeAll } from "./revocation.ts";
import type { Figures as RevokeFigures } from "./revocation.ts";
import { credsOf, devicePool, prepareDataDir, seedDevices } from "./seed.ts";
import type { DeviceCreds } from "./seed.ts";

const NODES = Number(process.env.BENCH_CLUSTER_NODES ?? 1000);
const REVOKE = Number(process.env.BENCH_REVOKE ?? 100);
const ORCHESTRATORS = 3;
const CLIENTS = 3;
/** nodes per fleet client for dispatch: 17 on each of the three daemons */
const DISPATCH_PER_CLIENT = 17;
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 300);
const TOTAL = Number(process.env.BENCH_TOTAL ?? 2000);
const WARMUP = 50;
const INPUT = Buffer.from(JSON.stringify({ payload: "x".repeat(200) }));

type Dispatch = { perSecond: number; p50: number; p99: number };
type Rep = {
  seq: Dispatch;
  par: Dispatch;
  revoke: RevokeFigures;
};
type Failover = { connectMs: number; replicaReconnectMs: number; replicaJobsMs: number; activeTakeoverMs: number; activeReconnectMs: number };

const tether = tetherCli;

async function createDatabase(server: TestPostgres, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return server.url.replace("/postgres?", `/${name}?`);
}

type Job = { id: string; state: string };

function runJob(o: Rpc, deviceId: string): Promise<void> {
  return o.call<Job>("Run", { deviceId, capability: "echo", input: INPUT, timeoutMs: 60_000, idempotencyKey: "" }).then((j) => {
    if (j.state !== "succeeded") throw new Error(`job ${j.id} ended ${j.state}`);
  });
}

/** Run round trips, `inFlight` at a time, devices and orchestrator channels round robin. */
async function measure(orchs: Rpc[], devices: string[], inFlight: number, total: number): Promise<Dispatch> {
  let rr = 0;
  const one = () => {
    const i = rr++;
    return runJob(orchs[i % orchs.length] as Rpc, devices[i % devices.length] as string);
  };
  for (let i = 0; i < WARMUP; i++) await one();
  const lat: number[] = [];
  let next = 0;
  const t0 = monoMs();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < total) {
        const t = monoMs();
        await one();
        lat.push(monoMs() - t);
      }
    }),
  );
  return { perSecond: total / ((monoMs() - t0) / 1000), p50: pct(lat, 50), p99: pct(lat, 99) };
}

/** The dispatch devices: the first DISPATCH_PER_CLIENT of each fleet client's slice (connect's limitPerClient). */
function dispatchIds(ids: string[]): string[] {
  return ranges(ids.length, CLIENTS).flatMap(([a]) => ids.slice(a, a + DISPATCH_PER_CLIENT));
}

async function connectAll(fleet: Fleet, addresses: string[], o: { echo: boolean; limitPerClient?: number }): Promise<{ lastAt: number }> {
  const c = await fleet.connect({
    mode: "tether",
    address: addresses[0] as string,
    addresses,
    concurrency: 16,
    echo: o.echo,
    reportEnds: true,
    ...(o.limitPerClient ? { limitPerClient: o.limitPerClient } : {}),
  });
  if (c.failed) throw new Error(`${c.failed} nodes failed to connect: ${c.errors.join("; ")}`);
  return c;
}

/** Connect again until every device is registered (each round opens only those that are not); the time the last registered. */
async function reconnectUntilAll(fleet: Fleet, addresses: string[], n: number, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  let lastAt = 0;
  for (;;) {
    const c = await fleet.connect({ mode: "tether", address: addresses[0] as string, addresses, concurrency: 16, echo: true });
    if (c.ok) lastAt = c.lastAt;
    const s = await fleet.status();
    if (s.open >= n) return lastAt;
    if (Date.now() > until) throw new Error(`only ${s.open} of ${n} nodes reconnected: ${c.errors.join("; ")}`);
    await sleep(50);
  }
}

async function untilAllEnded(fleet: Fleet, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await fleet.status()).open > 0) {
    if (Date.now() > until) throw new Error(`streams still open ${timeoutMs} ms after the kill`);
    await sleep(10);
  }
}

/** Dispatch and revocation on one deployment: `nodeAt[i]` is where fleet client i connects, `orchAt[k]` orchestrator k, `adminFor(v)` the admin socket that revokes victim v. */
async function workload(
  fleet: Fleet,
  caPem: string,
  orchCreds: DeviceCreds[],
  ids: string[],
  nodeAt: string[],
  orchAt: string[],
  adminFor: (victimIndex: number) => Rpc,
  victims: string[],
  ends: Map<string, { code: number; details: string; at: number }>,
  codes: Set<string>,
): Promise<Rep> {
  const orchs = orchCreds.map((c, k) => orchestratorClient(orchAt[k % orchAt.length] as string, caPem, c));
  try {
    await connectAll(fleet, nodeAt, { echo: true, limitPerClient: DISPATCH_PER_CLIENT });
    const dids = dispatchIds(ids);
    const seq = await measure(orchs, dids, 1, SEQUENTIAL);
    const par = await measure(orchs, dids, 64, TOTAL);
    await connectAll(fleet, nodeAt, { echo: true });
    await sleep(500);
    ends.clear();
    let v = 0;
    const byId = new Map(victims.map((id, i) => [id, i]));
    const revoke = await revokeAll(victims, ends, fleet, (id) => adminFor(byId.get(id) ?? v++).call("RevokeDevice", { id, reason: "bench" }), codes);
    return { seq, par, revoke };
  } finally {
    for (const o of orchs) o.close();
    await fleet.reset();
  }
}

export async function clusterBench(ctx: BenchContext): Promise<{ rows: Row[]; notes: string[]; params: Record<string, number | string> }> {
  const reps = repsOf(ctx, 3);
  const pool = await devicePool(NODES + ORCHESTRATORS, ctx.log);
  const creds = credsOf(pool.devices.slice(0, NODES + ORCHESTRATORS));
  const nodes = creds.slice(0, NODES);
  const orchCreds = creds.slice(NODES);
  const ids = nodes.map((n) => n.id);
  const tmp = ctx.tmp("tether-bench-cluster-");
  const template = join(tmp, "level");
  prepareDataDir(pool, template);
  await seedDevices(pool, template, 0, NODES + ORCHESTRATORS, (i) => (i >= NODES ? "orchestrator" : "node"));
  // Victims: every tenth node, so each fleet client (and so each daemon) holds some.
  const victims = ids.filter((_, i) => i % Math.floor(NODES / REVOKE) === 0).slice(0, REVOKE);
  // The daemon a victim's stream is on (fleet client i connects to nodeAt[i]).
  const clientOf = (id: string) => ranges(NODES, CLIENTS).findIndex(([a, b]) => ids.indexOf(id) >= a && ids.indexOf(id) < b);
  const fleet = await startFleet(CLIENTS, ctx.tmp("tether-bench-fleet-"));
  const ends = new Map<string, { code: number; details: string; at: number }>();
  fleet.onEnded((m) => ends.set(m.id, m));
  const single: Rep[] = [];
  const cluster: Rep[] = [];
  const activeOnly: Dispatch[][] = [];
  const failovers: Failover[] = [];
  const codes = new Set<string>();
  const notes: string[] = [];
  const server = await startPostgres({ fsync: true });
  try {
    await fleet.prepare(pool.caPem, nodes);
    const kek = join(tmp, "kek.json");
    await tether(["ca", "new-kek", kek, "--json"]);
    for (let rep = 0; rep < reps; rep++) {
      // The single embedded daemon: everything on it.
      const dir = join(tmp, `single-${rep}`);
      cpSync(template, dir, { recursive: true });
      const d = await startDaemonProcess(dir);
      const admin = adminClient(d.adminSocket);
      try {
        const r = await workload(fleet, pool.caPem, orchCreds, ids, [d.listen], [d.listen], () => admin, victims, ends, codes);
        single.push(r);
        ctx.log(`rep ${rep + 1}/${reps} single LevelDB daemon: ${fmtRep(r)}`);
      } finally {
        admin.close();
        await d.kill();
        rmSync(dir, { recursive: true, force: true });
      }

      // Three daemons on one new database.
      const url = await createDatabase(server, `cluster_${rep}`);
      await tether(["store", "migrate", "--from", `level:${template}`, "--to", url, "--kek-file", kek, "--json"]);
      const store = ["--store", url, "--kek-file", kek, "--replica"];
      const dirs = ["a", "b", "c"].map((n) => {
        const p = join(tmp, `cluster-${rep}-${n}`);
        mkdirSync(p, { mode: 0o700 });
        return p;
      });
      const started: DaemonProcess[] = [];
      const admins: Rpc[] = [];
      try {
        const a = await startDaemonProcess(dirs[0] as string, { args: store });
        started.push(a);
        const [b, c] = await Promise.all([startDaemonProcess(dirs[1] as string, { args: store }), startDaemonProcess(dirs[2] as string, { args: store })]);
        started.push(b, c);
        for (const x of [a, b, c]) admins.push(adminClient(x.adminSocket));
        const all = [a, b, c].map((x) => x.listen);
        // The active alone: nodes and orchestrators all at A (no forwarding; the database's cost).
        const orchsA = orchCreds.map((cr) => orchestratorClient(a.listen, pool.caPem, cr));
        try {
          await connectAll(fleet, [a.listen], { echo: true, limitPerClient: DISPATCH_PER_CLIENT });
          const dids = dispatchIds(ids);
          activeOnly.push([await measure(orchsA, dids, 1, SEQUENTIAL), await measure(orchsA, dids, 64, TOTAL)]);
        } finally {
          for (const o of orchsA) o.close();
          await fleet.reset();
        }
        // Spread: fleet client i on daemon i, orchestrator k on daemon k; victim revoked on the next daemon after its own.
        const r = await workload(fleet, pool.caPem, orchCreds, ids, all, all, (vi) => admins[(clientOf(victims[vi] as string) + 1) % 3] as Rpc, victims, ends, codes);
        cluster.push(r);
        ctx.log(`rep ${rep + 1}/${reps} three daemons on PostgreSQL: ${fmtRep(r)}; the active alone: ${fmtDispatch(activeOnly[rep] as Dispatch[])}`);
        if (rep === 0) {
          const f = await failover(fleet, pool.caPem, orchCreds[0] as DeviceCreds, ids, victims, { a, b, c }, dirs, store);
          started.push(...f.restarted);
          failovers.push(f.figures);
          ctx.log(`failover: ${JSON.stringify(f.figures)}`);
        }
      } finally {
        for (const x of admins) x.close();
        await fleet.reset();
        for (const x of started) await x.kill();
        for (const p of dirs) rmSync(p, { recursive: true, force: true });
      }
    }
  } finally {
    await fleet.stop();
    await server.stop();
  }
  const pick = (xs: Rep[], f: (r: Rep) => number) => xs.map(f);
  const fo = (f: (x: Failover) => number) => failovers.map(f);
  const refused = cluster.reduce((s, r) => s + r.revoke.refused, 0);
  const probed = cluster.reduce((s, r) => s + r.revoke.probed, 0);
  const missing = cluster.reduce((s, r) => s + r.revoke.missing, 0);
  notes.push(
    `dispatch: Orchestrator.Run (dispatch and wait for the final job, one RPC) with a 200-byte input that the node echoes; ${SEQUENTIAL} jobs at 1 in flight and ${TOTAL} at 64, after ${WARMUP} unmeasured; ${DISPATCH_PER_CLIENT * CLIENTS} nodes (${DISPATCH_PER_CLIENT} per daemon in the cluster) and ${ORCHESTRATORS} orchestrator channels (one per daemon), both round robin, so two jobs in three go from an orchestrator on one daemon to a node on another`,
    `revocation: ${REVOKE} of ${NODES} connected nodes (every ${Math.floor(NODES / REVOKE)}th, a third on each daemon) revoked one after another with Admin.RevokeDevice on the admin socket of the daemon after the one the node connects to (B's for a node on A, C's for B, A's for C), so each revoke crosses daemons; times stamped in the nodes' client processes; after each, a new connection with the revoked certificate to the daemon the node was on: ${refused} of ${probed} refused on the first call (status ${[...codes].join(", ") || "-"})${missing ? `; ${missing} stream ends NOT seen within 10 s` : ""}`,
    `failover (first repetition only, since it changes the deployment): the ${NODES - victims.length} nodes that are not revoked connect through B and are each given one job (Dispatch from an orchestrator on A) that they receive and do not answer; kill -9 of B; once the nodes' client processes saw their streams end they connect to C, answering jobs this time; times from the kill. Then B is started again as a replica, the nodes spread over B and C (A holds none), and the active A is killed: until a replica has taken over (its second ready line) and every node is registered again at its own address`,
    `three daemons: A active, B and C started with --replica on the same database and KEK, each its own process, port and admin socket; the single daemon: one process on LevelDB (a fresh copy of the seeded data directory each repetition); PostgreSQL 15 on a Unix socket of this machine with fsync on (shared_buffers at the default 128 MB); one machine (${CLIENTS} node client processes, the orchestrators in this process, the daemons and the database share its cores)`,
    pool.describe(),
  );
  const rows: Row[] = [
    row(
      "dispatch, 64 in flight, p99: three daemons on PostgreSQL (baseline: single LevelDB daemon)",
      "ms",
      pick(cluster, (r) => r.par.p99),
      pick(single, (r) => r.par.p99),
      { text: "<= 3x the single daemon's", met: (x) => x <= 3 },
    ),
    row(
      "dispatch, 64 in flight, p50: three daemons (baseline: single daemon)",
      "ms",
      pick(cluster, (r) => r.par.p50),
      pick(single, (r) => r.par.p50),
    ),
    row(
      "dispatch, 64 in flight, jobs/s: three daemons (baseline: single daemon)",
      "jobs/s",
      pick(cluster, (r) => r.par.perSecond),
      pick(single, (r) => r.par.perSecond),
    ),
    row(
      "dispatch, 1 in flight, p99: three daemons (baseline: single daemon)",
      "ms",
      pick(cluster, (r) => r.seq.p99),
      pick(single, (r) => r.seq.p99),
      { text: "<= 3x the single daemon's", met: (x) => x <= 3 },
    ),
    row(
      "dispatch, 1 in flight, p50: three daemons (baseline: single daemon)",
      "ms",
      pick(cluster, (r) => r.seq.p50),
      pick(single, (r) => r.seq.p50),
    ),
    row(
      "dispatch, 64 in flight, jobs/s: the active alone on PostgreSQL (baseline: single LevelDB daemon)",
      "jobs/s",
      activeOnly.map((x) => (x[1] as Dispatch).perSecond),
      pick(single, (r) => r.par.perSecond),
    ),
    row(
      "dispatch, 64 in flight, p99: the active alone on PostgreSQL (baseline: single LevelDB daemon)",
      "ms",
      activeOnly.map((x) => (x[1] as Dispatch).p99),
      pick(single, (r) => r.par.p99),
    ),
    row(
      "revoke called on one daemon -> stream closed on another, p99 (baseline: single daemon)",
      "ms",
      pick(cluster, (r) => r.revoke.fromCallP99),
      pick(single, (r) => r.revoke.fromCallP99),
      { text: "< 100 ms", met: (_x, s) => s.median < 100 },
    ),
    row(
      "revoke called on one daemon -> stream closed on another, p50 (baseline: single daemon)",
      "ms",
      pick(cluster, (r) => r.revoke.fromCallP50),
      pick(single, (r) => r.revoke.fromCallP50),
    ),
    row(
      "revoked certificate refused on its first call, three daemons",
      "%",
      pick(cluster, (r) => (100 * r.revoke.refused) / r.revoke.probed),
      undefined,
      { text: "100 %", met: (_x, s) => s.min === 100 },
    ),
    row(
      `kill -9 of the replica holding ${NODES - victims.length} nodes -> all registered at another (baseline: as many connecting to a running replica)`,
      "ms",
      fo((f) => f.replicaReconnectMs),
      fo((f) => f.connectMs),
      { text: "< 10 s", met: (_x, s) => s.median < 10_000 },
    ),
    row(
      `kill -9 of that replica -> all ${NODES - victims.length} jobs it had delivered succeeded`,
      "ms",
      fo((f) => f.replicaJobsMs),
      undefined,
      {
        text: "< 10 s",
        met: (_x, s) => s.median < 10_000,
      },
    ),
    row(
      "kill -9 of the active -> a replica is the active (its ready line)",
      "ms",
      fo((f) => f.activeTakeoverMs),
    ),
    row(
      `kill -9 of the active -> all ${NODES - victims.length} nodes registered again (baseline: as many connecting to a running replica)`,
      "ms",
      fo((f) => f.activeReconnectMs),
      fo((f) => f.connectMs),
      {
        text: "< 10 s",
        met: (_x, s) => s.median < 10_000,
      },
    ),
  ];
  return { rows, notes, params: { clusterNodes: NODES, clusterReps: reps, revoked: REVOKE } };
}

async function failover(
  fleet: Fleet,
  caPem: string,
  orch: DeviceCreds,
  allIds: string[],
  victims: string[],
  d: { a: DaemonProcess; b: DaemonProcess; c: DaemonProcess },
  dirs: string[],
  store: string[],
): Promise<{ figures: Failover; restarted: DaemonProcess[] }> {
  const revoked = new Set(victims);
  const ids = allIds.filter((id) => !revoked.has(id));
  const n = ids.length;
  // The workload revoked the victims; they are refused now, so the fleet counts only the others.
  const t0 = monoMs();
  const c0 = await fleet.connect({ mode: "tether", address: d.b.listen, concurrency: 16, echo: false });
  const connectMs = c0.lastAt - t0;
  if (c0.ok !== n) throw new Error(`${c0.ok} of ${n} connected to B: ${c0.errors.join("; ")}`);
  // One job each, delivered and not answered (echo off).
  const o = orchestratorClient(d.a.listen, caPem, orch);
  const jobIds: string[] = [];
  try {
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(
        ids.slice(i, i + 50).map((id) => o.call<Job>("Dispatch", { deviceId: id, capability: "echo", input: INPUT, timeoutMs: 600_000, idempotencyKey: "" })),
      );
      jobIds.push(...batch.map((j) => j.id));
    }
    const pushedBy = Date.now() + 120_000;
    while ((await fleet.status()).pushes < n) {
      if (Date.now() > pushedBy) throw new Error(`only ${(await fleet.status()).pushes} of ${n} jobs delivered`);
      await sleep(20);
    }
    const killedAt = monoMs();
    await d.b.kill();
    await untilAllEnded(fleet, 30_000);
    await fleet.reset();
    const last = await reconnectUntilAll(fleet, [d.c.listen], n, 60_000);
    const replicaReconnectMs = last - killedAt;
    // Every job succeeded: their final states, read through C.
    const until = Date.now() + 120_000;
    let pending = [...jobIds];
    while (pending.length) {
      const states = await Promise.all(pending.map((id) => o.call<Job>("GetJob", { id }).catch(() => ({ id, state: "?" }))));
      pending = states.filter((j) => j.state !== "succeeded").map((j) => j.id);
      if (!pending.length) break;
      if (Date.now() > until) throw new Error(`${pending.length} of ${n} jobs not succeeded 120 s after the kill`);
      await sleep(20);
    }
    const replicaJobsMs = monoMs() - killedAt;
    o.close();
    await fleet.reset();

    // B again, as a replica; the nodes on B and C; then the active dies.
    rmSync(dirs[1] as string, { recursive: true, force: true });
    mkdirSync(dirs[1] as string, { mode: 0o700 });
    const b2 = await startDaemonProcess(dirs[1] as string, { args: store });
    await reconnectUntilAll(fleet, [b2.listen, d.c.listen, b2.listen], n, 60_000);
    const takeover = (p: DaemonProcess & { child: DaemonProcess["child"] }) =>
      new Promise<number>((resolve) => {
        let out = "";
        p.child.stdout?.on("data", (x) => {
          out += x;
          if (out.includes('"takeover":true')) resolve(monoMs());
        });
      });
    const tookOver = Promise.race([takeover(b2), takeover(d.c)]);
    const killedA = monoMs();
    await d.a.kill();
    await untilAllEnded(fleet, 30_000);
    await fleet.reset();
    const lastA = await reconnectUntilAll(fleet, [b2.listen, d.c.listen, b2.listen], n, 120_000);
    const activeTakeoverMs = (await tookOver) - killedA;
    return { figures: { connectMs, replicaReconnectMs, replicaJobsMs, activeTakeoverMs, activeReconnectMs: lastA - killedA }, restarted: [b2] };
  } finally {
    o.close();
  }
}

function fmtDispatch(x: Dispatch[]): string {
  return x.map((d) => `${d.perSecond.toFixed(0)} jobs/s p50 ${d.p50.toFixed(1)} p99 ${d.p99.toFixed(1)} ms`).join(" | ");
}

function fmtRep(r: Rep): string {
  return `dispatch ${fmtDispatch([r.seq, r.par])}; revoke called->closed p50 ${r.revoke.fromCallP50.toFixed(1)} p99 ${r.revoke.fromCallP99.toFixed(1)} ms, refused ${r.revoke.refused}/${r.revoke.probed}`;
}
