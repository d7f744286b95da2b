/**
 * npm run bench -- --only replicas: a replica's cold start on PostgreSQL (`tether daemon --store
 * postgresql://... --kek-file`), a new process until a node's Node.Connect stream answers
 * `registered`, with 1,000,000 devices and 10,000,000 finished jobs in the database
 * (BENCH_REPLICAS_DEVICES, BENCH_REPLICAS_JOBS). Baseline, in the same run: the same start on a
 * database that holds only the CA's vault and the connecting node's device. Also, to see what
 * each part costs: the same devices without the jobs (a copy of the database made before the
 * jobs went in), and with BENCH_REPLICAS_LEVEL=1 the LevelDB daemon with the same devices.
 *
 * Seeding, while no daemon runs: `tether store migrate` of a small LevelDB data directory
 * (bench/seed.ts: the CA and the connecting node's device) into each database, which seals the
 * CA into its vault under a new KEK; then into the big one the other devices and the finished
 * jobs with their index records by COPY through psql, built by bench/seed.ts's pairedDeviceOps
 * and finishedJobOps (the records PairingManager.approve and the job queue write; the
 * bookkeeping records saying the indexes are complete came with the migrate). For each COPY
 * the primary key is dropped and added again after it (one sort instead of 30,000,000 B-tree
 * inserts), then VACUUM ANALYZE and a CHECKPOINT, so that no start pays for the load. The
 * PostgreSQL server is test/postgres.ts's throw-away one (Unix socket, fsync off); stopped
 * and removed at the end.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { postgresBin, startPostgres } from "../test/postgres.ts";
import type { TestPostgres } from "../test/postgres.ts";
import type { Bench, BenchContext, BenchResult } from "./harness.ts";
import { ROOT, onExit, repsOf, row, startDaemonProcess, tetherCli } from "./harness.ts";
import type { DaemonProcess } from "./harness.ts";
import { startFleet } from "./fleet.ts";
import type { Fleet } from "./fleet.ts";
import { newestProfile, profileLines, summarize } from "./profile.ts";
import { credsOf, devicePool, finishedJobOps, pairedDeviceOps, prepareDataDir, seedDevices } from "./seed.ts";
import { clusterBench } from "./replicas-cluster.ts";
import type { Pool } from "./seed.ts";

const DEVICES = Number(process.env.BENCH_REPLICAS_DEVICES ?? 1_000_000);
const JOBS = Number(process.env.BENCH_REPLICAS_JOBS ?? 10_000_000);
const TARGET_MS = 3000;
/** a start with a million devices takes long; a stop writes their presence */
const START_TIMEOUT_MS = 600_000;
/** BENCH_REPLICAS_LEVEL=1: also the LevelDB daemon with the same devices (no jobs), seeded by bench/seed.ts */
const WITH_LEVEL = process.env.BENCH_REPLICAS_LEVEL === "1";

const run = promisify(execFile);

type Start = { readyMs: number; registeredMs: number };

const tether = tetherCli;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A new database on the server; its URL. */
async function createDatabase(server: TestPostgres, name: string, template?: string): Promise<string> {
  await withClient(server.url, (c) => c.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template} STRATEGY FILE_COPY` : ""}`));
  return server.url.replace("/postgres?", `/${name}?`);
}

const csv = (s: string) => `"${s.replaceAll('"', '""')}"`;

type Put = { table: string; value: { id: string } };
type CopyStats = { copyMs: number; indexMs: number; vacuumMs: number; rows: number };

/**
 * Records into tether_records by COPY through psql: CSV on its stdin, written straight into
 * buffers (string concatenation made the generator spend most of its time in GC), each chunk
 * generated here while PostgreSQL parses the previous one; the value's text is
 * JSON.stringify of the record, as PgStore writes it. The primary key is dropped for the load
 * and added again with the definition it had; then VACUUM ANALYZE and a CHECKPOINT.
 */
async function copyRecords(url: string, chunks: Iterable<Put[]>, what: string, log: (s: string) => void): Promise<CopyStats> {
  const pk = await withClient(url, async (c) => {
    const r = await c.query<{ name: string; def: string }>(
      "SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'tether_records'::regclass AND contype = 'p'",
    );
    const k = r.rows[0];
    if (!k) throw new Error("tether_records has no primary key");
    await c.query(`ALTER TABLE tether_records DROP CONSTRAINT ${k.name}`);
    return k;
  });
  const t0 = performance.now();
  const psql = spawn(join(postgresBin(), "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", "COPY tether_records (tbl, id, value) FROM STDIN WITH (FORMAT csv)"], {
    stdio: ["pipe", "ignore", "pipe"],
  });
  let err = "";
  psql.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((resolve, reject) => {
    psql.on("error", reject);
    psql.on("close", (code) => resolve(code));
  });
  const stdin = psql.stdin;
  let broken: Error | undefined;
  stdin.on("error", (e) => (broken = e));
  // Two buffers in turn, each filled again only once psql has taken its last contents: a new
  // buffer per write made V8 run a full GC every few writes (external memory), over the
  // pool's gigabytes of heap.
  const SIZE = 16 << 20;
  const bufs = [Buffer.allocUnsafe(SIZE), Buffer.allocUnsafe(SIZE)];
  const free: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
  let cur = 0;
  let buf = bufs[0] as Buffer;
  let off = 0;
  const flush = async () => {
    if (off === 0) return;
    const out = buf.subarray(0, off);
    free[cur] = new Promise<void>((resolve) => stdin.write(out, () => resolve()));
    cur ^= 1;
    buf = bufs[cur] as Buffer;
    off = 0;
    await Promise.race([free[cur], exited]);
  };
  let rows = 0;
  let n = 0;
  for (const chunk of chunks) {
    if (broken) break;
    for (const { table, value } of chunk) {
      if (off > SIZE - (1 << 20)) await flush();
      off += buf.write(`${table},${csv(value.id)},${csv(JSON.stringify(value))}\n`, off);
    }
    rows += chunk.length;
    await flush();
    if (++n % 100 === 0) log(`  ${what}: ${rows} rows sent to COPY (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  stdin.end();
  const code = await exited;
  if (code !== 0 || broken) throw new Error(`psql COPY failed (exit ${code}): ${err.trim() || broken?.message}`);
  const copyMs = performance.now() - t0;
  log(`${what}: COPY of ${rows} rows in ${(copyMs / 1000).toFixed(1)} s; adding the primary key again`);
  const t1 = performance.now();
  await withClient(url, async (c) => {
    await c.query("SET maintenance_work_mem = '1GB'");
    await c.query(`ALTER TABLE tether_records ADD CONSTRAINT ${pk.name} ${pk.def}`);
  });
  const indexMs = performance.now() - t1;
  const t2 = performance.now();
  await withClient(url, async (c) => {
    await c.query("VACUUM (ANALYZE) tether_records");
    await c.query("CHECKPOINT");
  });
  const vacuumMs = performance.now() - t2;
  log(`${what}: primary key (${pk.def}) in ${(indexMs / 1000).toFixed(1)} s, VACUUM ANALYZE + CHECKPOINT in ${(vacuumMs / 1000).toFixed(1)} s`);
  return { copyMs, indexMs, vacuumMs, rows };
}

/** Pool devices `from..to` as paired devices (bench/seed.ts pairedDeviceOps), 5,000 a chunk. */
function* deviceChunks(p: Pool, from: number, to: number): Iterable<Put[]> {
  for (let i = from; i < to; i += 5000) {
    const out: Put[] = [];
    for (let j = i; j < Math.min(to, i + 5000); j++) out.push(...pairedDeviceOps(p, j, "node"));
    yield out;
  }
}

/** `count` finished jobs over pool devices `0..devices` (bench/seed.ts finishedJobOps), 10,000 a chunk. */
function* jobChunks(p: Pool, count: number, devices: number): Iterable<Put[]> {
  for (let i = 0; i < count; i += 10_000) {
    const rnd = randomBytes(6 * 10_000).toString("hex");
    const out: Put[] = [];
    for (let j = i; j < Math.min(count, i + 10_000); j++) {
      const k = j - i;
      out.push(...finishedJobOps(p, j, count, devices, rnd.slice(k * 12, k * 12 + 12)));
    }
    yield out;
  }
}

/** Rows per table and the database's size, for the notes. */
async function describeDatabase(url: string): Promise<string> {
  return withClient(url, async (c) => {
    const t = await c.query<{ tbl: string; n: string }>("SELECT tbl, count(*) AS n FROM tether_records GROUP BY tbl ORDER BY tbl");
    const s = await c.query<{ size: string }>("SELECT pg_size_pretty(pg_database_size(current_database())) AS size");
    return `${t.rows.map((r) => `${r.tbl} ${r.n}`).join(", ")}; ${s.rows[0]?.size}`;
  });
}

/**
 * What the start's reads cost outside the daemon: the device scan in PostgreSQL alone
 * (EXPLAIN ANALYZE, no rows sent), and PgStore.list("devices") in a fresh process (the query,
 * the rows over the socket, JSON.parse), as the hub's start calls it.
 */
async function readCosts(url: string, devicesOnlyUrl: string): Promise<string[]> {
  const explain = (u: string) =>
    withClient(u, async (c) => {
      const r = await c.query<{ "QUERY PLAN": string }>("EXPLAIN (ANALYZE, BUFFERS) SELECT id, value::text AS v FROM tether_records WHERE tbl = 'devices' ORDER BY id ASC");
      const plan = r.rows.map((x) => x["QUERY PLAN"]);
      return `${plan.find((l) => l.startsWith("Execution Time"))?.trim() ?? "?"} (plan: ${plan[0]?.trim().replace(/\s+\(cost.*$/, "")})`;
    });
  const exec = `${await explain(url)} with the jobs, ${await explain(devicesOnlyUrl)} in the devices-only database`;
  const code = `
    import { PgStore } from "@tether/store-pg";
    const s = await PgStore.open(process.argv[1], ["devices"], { queryTimeoutMs: 600000 });
    const t0 = performance.now();
    const list = await s.list("devices");
    const ms = performance.now() - t0;
    await s.close();
    process.stdout.write(JSON.stringify({ n: list.length, ms, heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20) }));
  `;
  const out = (await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code, url], { cwd: ROOT, maxBuffer: 1 << 20 })).stdout;
  const r = JSON.parse(out) as { n: number; ms: number; heapMiB: number };
  return [
    `PostgreSQL alone, the device scan the hub's start asks for (EXPLAIN ANALYZE, no rows sent): ${exec}`,
    `PgStore.list("devices") in a fresh process (query, ${r.n} rows over the socket, JSON.parse): ${r.ms.toFixed(0)} ms, ${r.heapMiB} MiB of heap after`,
  ];
}

async function tetherStart(
  fleet: Fleet,
  dataDir: string,
  args: string[],
  o: { nodeArgs?: string[]; during?: (d: DaemonProcess) => Promise<void> } = {},
): Promise<Start & { registeredAtMono: number; spawnedAtMono: number }> {
  const d = await startDaemonProcess(dataDir, { args, timeoutMs: START_TIMEOUT_MS, ...(o.nodeArgs ? { nodeArgs: o.nodeArgs } : {}) });
  try {
    const c = await fleet.connect({ mode: "tether", address: d.listen, concurrency: 1 });
    if (c.ok !== 1) throw new Error(`the node did not register: ${c.errors.join("; ")}`);
    await o.during?.(d);
    return { readyMs: d.readyMs, registeredMs: c.lastAt - d.spawnedAtMono, registeredAtMono: c.lastAt, spawnedAtMono: d.spawnedAtMono };
  } finally {
    await d.stop(START_TIMEOUT_MS);
    await fleet.reset();
  }
}

/** The daemon reads the COPY'd jobs as its own: a device's jobs (deviceJobs) and the admin's (ownerJobs). */
async function checkJobs(p: Pool, dataDir: string, devices: number, jobs: number): Promise<string> {
  const dev = p.devices[0]?.id as string;
  const ofDevice = JSON.parse(await tether(["jobs", "list", "--device", dev, "--limit", "5", "--json", "--data-dir", dataDir])) as {
    id: string;
    deviceId: string;
    state: string;
  }[];
  const all = JSON.parse(await tether(["jobs", "list", "--limit", "3", "--json", "--data-dir", dataDir])) as { id: string }[];
  const want = Math.min(5, Math.ceil(jobs / devices));
  if (ofDevice.length !== want || ofDevice.some((j) => j.deviceId !== dev)) throw new Error(`tether jobs list --device: ${ofDevice.length} jobs, expected ${want} of ${dev}`);
  if (all.length !== Math.min(3, jobs)) throw new Error(`tether jobs list: ${all.length} jobs, expected ${Math.min(3, jobs)}`);
  const shown = JSON.parse(await tether(["jobs", "show", ofDevice[0]?.id as string, "--json", "--data-dir", dataDir])) as { state: string };
  return `checked: the daemon lists the seeded jobs of a device (${ofDevice.length}, newest ${ofDevice[0]?.id} ${shown.state}) and the admin's newest (${all.length})`;
}

export const bench: Bench = {
  name: "replicas",
  summary:
    "three daemons on one PostgreSQL against the single LevelDB daemon (dispatch, cross-daemon revocation, failover of 1,000 nodes), then a cold start with 1,000,000 devices + 10,000,000 finished jobs against an empty database",
  async run(ctx: BenchContext): Promise<BenchResult> {
    // The cluster first (bench/replicas-cluster.ts); BENCH_REPLICAS_CLUSTER=0 or BENCH_REPLICAS_COLD=0 leaves one part out.
    const cluster = process.env.BENCH_REPLICAS_CLUSTER === "0" ? undefined : await clusterBench(ctx);
    if (process.env.BENCH_REPLICAS_COLD === "0") {
      if (!cluster) throw new Error("BENCH_REPLICAS_CLUSTER=0 and BENCH_REPLICAS_COLD=0 leave nothing to run");
      return { name: "replicas", params: cluster.params, rows: cluster.rows, notes: cluster.notes };
    }
    const cold = await coldStart(ctx);
    return cluster
      ? { name: "replicas", params: { ...cluster.params, ...cold.params }, rows: [...cluster.rows, ...cold.rows], notes: [...cluster.notes, ...(cold.notes ?? [])] }
      : cold;
  },
};

async function coldStart(ctx: BenchContext): Promise<BenchResult> {
  const reps = repsOf(ctx, 3);
  const started = performance.now();
  const pool = await devicePool(DEVICES, ctx.log);
  const node = credsOf(pool.devices.slice(0, 1));
  const fleet = await startFleet(1, ctx.tmp("tether-bench-fleet-"));
  const tmp = ctx.tmp("tether-bench-replicas-");
  const seeding: string[] = [];
  const notes: string[] = [];
  const empty: Start[] = [];
  const full: Start[] = [];
  const devicesOnly: Start[] = [];
  const level: Start[] = [];
  let server: TestPostgres | undefined;
  try {
    await fleet.prepare(pool.caPem, node);
    server = await startPostgres();
    // Ctrl-C skips the finally below: the server is not a child of this process, so stop it here.
    const pgData = join(server.socketDir, "data");
    const pgDir = server.socketDir;
    onExit(() => {
      if (!existsSync(pgData)) return;
      execFileSync("runuser", ["-u", "postgres", "--", join(postgresBin(), "pg_ctl"), "stop", "-D", pgData, "-m", "immediate", "-w"], { stdio: "ignore", cwd: pgDir });
      rmSync(pgDir, { recursive: true, force: true });
    });
    const kek = join(tmp, "kek.json");
    await tether(["ca", "new-kek", kek, "--json"]);
    const kekArgs = ["--kek-file", kek];
    const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

    // Both databases get the CA's vault and the connecting node's device from `tether store
    // migrate` of one small LevelDB data directory; the big one then the other devices and the
    // jobs by COPY, with a copy of it taken between the two for the devices-only start.
    const smallLevel = join(tmp, "level-small");
    prepareDataDir(pool, smallLevel);
    await seedDevices(pool, smallLevel, 0, 1);
    const emptyUrl = await createDatabase(server, "replica_empty");
    const bigUrl = await createDatabase(server, "replica_big");
    for (const url of [emptyUrl, bigUrl]) await tether(["store", "migrate", "--from", `level:${smallLevel}`, "--to", url, ...kekArgs, "--json"]);
    const devs = await copyRecords(bigUrl, deviceChunks(pool, 1, DEVICES), "devices", ctx.log);
    seeding.push(
      `${DEVICES - 1} more devices (${devs.rows} rows: device + approved request records) by COPY in ${secs(devs.copyMs)}, primary key ${secs(devs.indexMs)}, VACUUM ANALYZE + CHECKPOINT ${secs(devs.vacuumMs)}`,
    );
    let t = performance.now();
    const devicesUrl = await createDatabase(server, "replica_devices", "replica_big");
    seeding.push(`a copy of that database for the devices-only start in ${secs(performance.now() - t)}`);
    const jobs = await copyRecords(bigUrl, jobChunks(pool, JOBS, DEVICES), "jobs", ctx.log);
    seeding.push(
      `${JOBS} finished jobs (${jobs.rows} rows: job, deviceJobs and ownerJobs records) by COPY in ${secs(jobs.copyMs)}, primary key ${secs(jobs.indexMs)}, VACUUM ANALYZE + CHECKPOINT ${secs(jobs.vacuumMs)}`,
    );
    notes.push(`database with the jobs: ${await describeDatabase(bigUrl)}`, `devices-only database: ${await describeDatabase(devicesUrl)}`);

    // Each replica's own data directory (its server certificate; the first start issues it).
    const replica = (name: string) => {
      const dir = join(tmp, name);
      mkdirSync(dir, { mode: 0o700 });
      return dir;
    };
    const starts: Record<string, { dir: string; args: string[]; out: Start[] }> = {
      empty: { dir: replica("replica-empty"), args: ["--store", emptyUrl, ...kekArgs], out: empty },
      full: { dir: replica("replica-big"), args: ["--store", bigUrl, ...kekArgs], out: full },
      devicesOnly: { dir: replica("replica-devices"), args: ["--store", devicesUrl, ...kekArgs], out: devicesOnly },
    };
    if (WITH_LEVEL) {
      const bigLevel = join(tmp, "level-big");
      prepareDataDir(pool, bigLevel);
      t = performance.now();
      await seedDevices(pool, bigLevel, 0, DEVICES);
      seeding.push(`for the LevelDB start, ${DEVICES} devices into a LevelDB data directory in ${secs(performance.now() - t)}`);
      starts.level = { dir: bigLevel, args: [], out: level };
    }
    // A start that fails (say, out of memory) is a result too: noted, and left out of the repetitions.
    const failed = new Map<string, string>();
    const warm: string[] = [];
    for (const [name, s] of Object.entries(starts)) {
      try {
        const w = await tetherStart(fleet, s.dir, s.args, name === "full" ? { during: async () => void notes.push(await checkJobs(pool, s.dir, DEVICES, JOBS)) } : {});
        warm.push(`${name} ${fmt(w)}`);
      } catch (err) {
        const msg = (err as Error).message;
        failed.set(name, msg.slice(0, 200) + (msg.length > 1000 ? ` ... ${msg.slice(-800)}` : msg.slice(200, 1000)));
        warm.push(`${name} FAILED`);
        ctx.log(`${name}: the start failed: ${msg.slice(-2000)}`);
        s.out.push({ readyMs: Number.NaN, registeredMs: Number.NaN });
      }
    }
    ctx.log(`warm-up starts (not counted): ${warm.join("; ")}`);
    for (let rep = 0; rep < reps; rep++) {
      const line: string[] = [];
      for (const [name, s] of Object.entries(starts)) {
        if (failed.has(name)) continue;
        s.out.push(await tetherStart(fleet, s.dir, s.args));
        line.push(`${name} ${fmt(s.out[rep] as Start)}`);
      }
      ctx.log(`rep ${rep + 1}/${reps}: ${line.join("; ")}`);
    }
    for (const [name, msg] of failed) notes.push(`the ${name} start FAILED (no figures): ${msg}`);
    // With the default heap failing, one start with a larger one says whether memory was the cause, and what it takes then.
    const bigHeap = failed.has("full") ? ["--max-old-space-size=16384"] : [];
    if (bigHeap.length) {
      try {
        const r = await tetherStart(fleet, join(tmp, "replica-big"), ["--store", bigUrl, ...kekArgs], { nodeArgs: bigHeap });
        notes.push(`with node ${bigHeap.join(" ")} (not the default; not in the table) the big database's start takes ${fmt(r)}`);
      } catch (err) {
        notes.push(`with node ${bigHeap.join(" ")} the big database's start fails too: ${(err as Error).message.slice(-600)}`);
      }
    }

    // What the start spends its time on, when it misses the target (not in the figures).
    const median = [...full].sort((a, b) => a.registeredMs - b.registeredMs)[full.length >> 1] as Start;
    if (!(median.registeredMs < TARGET_MS) || process.env.BENCH_PROFILE === "1") {
      notes.push(...(await readCosts(bigUrl, devicesUrl).catch((err: Error) => [`reading the devices outside the daemon failed: ${err.message.slice(-600)}`])));
      const profDir = join(tmp, "profile");
      mkdirSync(profDir);
      try {
        const pr = await tetherStart(fleet, join(tmp, "replica-big"), ["--store", bigUrl, ...kekArgs], { nodeArgs: [...bigHeap, "--cpu-prof", "--cpu-prof-dir", profDir] });
        const f = newestProfile(profDir);
        if (f) {
          notes.push(
            ...profileLines(
              `daemon CPU profile of one more start on the big database (${fmt(pr)} under --cpu-prof; spawn -> registered)`,
              summarize(f, 12, { from: pr.spawnedAtMono, to: pr.registeredAtMono }),
            ),
          );
          if (process.env.BENCH_KEEP_PROFILE) {
            mkdirSync(process.env.BENCH_KEEP_PROFILE, { recursive: true });
            await run("cp", [f, process.env.BENCH_KEEP_PROFILE]);
          }
        }
      } catch (err) {
        notes.push(`the profiled start failed: ${(err as Error).message.slice(-600)}`);
      }
      rmSync(profDir, { recursive: true, force: true });
    }
  } finally {
    await fleet.stop();
    await server?.stop();
  }
  const reg = (xs: Start[]) => xs.map((x) => x.registeredMs);
  const rdy = (xs: Start[]) => xs.map((x) => x.readyMs);
  const big = `${DEVICES} devices + ${JOBS} finished jobs`;
  return {
    name: "replicas",
    params: { reps, devices: DEVICES, finishedJobs: JOBS, store: "postgresql 15" },
    rows: [
      row(`spawn -> first node registered, PostgreSQL, ${big}`, "ms", reg(full), reg(empty), { text: `< ${TARGET_MS} ms`, met: (_r, s) => s.median < TARGET_MS }),
      row(`spawn -> ready line, PostgreSQL, ${big}`, "ms", rdy(full), rdy(empty)),
      row("spawn -> first node registered, PostgreSQL, empty database (the baseline)", "ms", reg(empty)),
      row(`spawn -> first node registered, PostgreSQL, ${DEVICES} devices, no jobs (baseline column: empty database)`, "ms", reg(devicesOnly), reg(empty)),
      row(`${JOBS} finished jobs' effect on PostgreSQL: with vs without (baseline column = without)`, "ms", reg(full), reg(devicesOnly), {
        text: "<= 1.2x: finished jobs must not slow the start",
        met: (r) => r <= 1.2,
      }),
      ...(level.length
        ? [row(`spawn -> first node registered, LevelDB, the same ${DEVICES} devices, no jobs (baseline column: PostgreSQL, devices only)`, "ms", reg(level), reg(devicesOnly))]
        : []),
    ],
    notes: [
      "spawn -> registered: from spawning `node bin/tether daemon --store postgresql://... --kek-file F` (TypeScript through tsx) until a node that connects as soon as the ready line appears gets `registered` on its Node.Connect stream; the ready line is printed once the listener is bound",
      "baseline: the same daemon on a database that holds only the CA's vault and the connecting node's device (a database with nothing in it would make a new CA on the first start, which no later start repeats)",
      pool.describe(),
      `seeding (${((performance.now() - started) / 1000).toFixed(0)} s for the whole benchmark): ${seeding.join("; ")}`,
      "each configuration had one unmeasured warm-up start first (a replica's first start issues its server certificate; it also puts the database's pages in the OS page cache, so these are process cold starts, not disk-cold ones); they then alternate in every repetition; the PostgreSQL server is a throw-away one on this machine (Unix socket, fsync off, default shared_buffers 128 MB)",
      ...notes,
    ],
  };
}

function fmt(s: Start): string {
  return `ready ${s.readyMs.toFixed(0)} ms, registered ${s.registeredMs.toFixed(0)} ms`;
}
