/**
 * npm run bench -- --only replicas: a replica's cold start on PostgreSQL (`tether daemon --store
 * postgresql://... --kek-file`), a new process until a node's Node.Connect stream answers
 * `registered`, with 1,000,000 devices and 10,000,000 finished jobs in the database
 * (BENCH_REPLICAS_DEVICES, BENCH_REPLICAS_JOBS). Baseline, in the same run: the same start on a
 * database that holds only the CA's vault and the connecting node's device. Also, for what
 * each part costs: the same devices without the jobs (a copy of the database made before the
 * jobs went in), and the LevelDB daemon on the data directory the devices were migrated from.
 *
 * Seeding, while no daemon runs: the devices through bench/seed.ts into a LevelDB data
 * directory, `tether store migrate` into the database (which also seals the CA into its vault
 * under a new KEK), then the finished jobs and their index records (bench/seed.ts's
 * finishedJobOps, the records the job queue writes) with COPY through psql, the primary key
 * dropped for the load and added again after it (one sort instead of 30,000,000 inserts into
 * the B-tree), then VACUUM ANALYZE and a CHECKPOINT so that no start pays for the load.
 * The PostgreSQL server is test/postgres.ts's throw-away one (Unix socket, fsync off).
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { postgresBin, startPostgres } from "../test/postgres.ts";
import type { TestPostgres } from "../test/postgres.ts";
import type { Bench, BenchContext, BenchResult } from "./harness.ts";
import { BIN, ROOT, repsOf, row, startDaemonProcess } from "./harness.ts";
import type { DaemonProcess } from "./harness.ts";
import { startFleet } from "./fleet.ts";
import type { Fleet } from "./fleet.ts";
import { newestProfile, profileLines, summarize } from "./profile.ts";
import { credsOf, devicePool, finishedJobOps, prepareDataDir, seedDevices } from "./seed.ts";
import type { Pool } from "./seed.ts";

const DEVICES = Number(process.env.BENCH_REPLICAS_DEVICES ?? 1_000_000);
const JOBS = Number(process.env.BENCH_REPLICAS_JOBS ?? 10_000_000);
const TARGET_MS = 3000;
/** a start with a million devices takes long; a stop writes their presence */
const START_TIMEOUT_MS = 600_000;

const run = promisify(execFile);

type Start = { readyMs: number; registeredMs: number };

/** `tether ARGS` in the checkout (as startDaemonProcess runs it); its stdout. */
async function tether(args: string[]): Promise<string> {
  try {
    return (await run(process.execPath, [BIN, ...args], { cwd: ROOT, maxBuffer: 64 << 20 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`tether ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

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

/**
 * `count` finished jobs with their index records into tether_records, by COPY through psql
 * (CSV on its stdin, generated here while PostgreSQL parses the previous chunk). The primary
 * key is dropped for the load and added again with the definition it had.
 */
async function copyFinishedJobs(
  p: Pool,
  url: string,
  count: number,
  devices: number,
  log: (s: string) => void,
): Promise<{ copyMs: number; indexMs: number; vacuumMs: number; rows: number }> {
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
  let rows = 0;
  const CHUNK = 10_000;
  for (let i = 0; i < count && !broken; i += CHUNK) {
    const rnd = randomBytes(6 * CHUNK).toString("hex");
    let text = "";
    for (let j = i; j < Math.min(count, i + CHUNK); j++) {
      const k = j - i;
      for (const op of finishedJobOps(p, j, count, devices, rnd.slice(k * 12, k * 12 + 12))) {
        // the value's text as PgStore writes it: JSON.stringify of the record
        text += `${op.table},${csv(op.value.id)},${csv(JSON.stringify(op.value))}\n`;
        rows++;
      }
    }
    if (!stdin.write(text)) await Promise.race([once(stdin, "drain"), exited]);
    if ((i / CHUNK) % 100 === 99) log(`  ${i + CHUNK} jobs sent to COPY (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  stdin.end();
  const code = await exited;
  if (code !== 0 || broken) throw new Error(`psql COPY failed (exit ${code}): ${err.trim() || broken?.message}`);
  const copyMs = performance.now() - t0;
  log(`COPY of ${rows} rows done in ${(copyMs / 1000).toFixed(1)} s; adding the primary key again`);
  const t1 = performance.now();
  await withClient(url, async (c) => {
    await c.query("SET maintenance_work_mem = '1GB'");
    await c.query(`ALTER TABLE tether_records ADD CONSTRAINT ${pk.name} ${pk.def}`);
  });
  const indexMs = performance.now() - t1;
  log(`primary key (${pk.def}) built in ${(indexMs / 1000).toFixed(1)} s; VACUUM ANALYZE`);
  const t2 = performance.now();
  await withClient(url, async (c) => {
    await c.query("VACUUM (ANALYZE) tether_records");
    await c.query("CHECKPOINT");
  });
  return { copyMs, indexMs, vacuumMs: performance.now() - t2, rows };
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
async function readCosts(url: string): Promise<string[]> {
  const plan = await withClient(url, async (c) => {
    const r = await c.query<{ "QUERY PLAN": string }>("EXPLAIN (ANALYZE, BUFFERS) SELECT id, value::text AS v FROM tether_records WHERE tbl = 'devices' ORDER BY id ASC");
    return r.rows.map((x) => x["QUERY PLAN"]);
  });
  const exec = plan.find((l) => l.startsWith("Execution Time"))?.trim() ?? "?";
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
    `PostgreSQL alone, the device scan the hub's start asks for (EXPLAIN ANALYZE, no rows sent): ${exec}; plan: ${plan[0]?.trim()}`,
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
  summary: "a replica's cold start on PostgreSQL with 1,000,000 devices + 10,000,000 finished jobs, against an empty database",
  async run(ctx: BenchContext): Promise<BenchResult> {
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
      const kek = join(tmp, "kek.json");
      await tether(["ca", "new-kek", kek, "--json"]);
      const kekArgs = ["--kek-file", kek];
      const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

      // The baseline: a database with the CA's vault and the connecting node's device only.
      const emptyLevel = join(tmp, "level-empty");
      prepareDataDir(pool, emptyLevel);
      await seedDevices(pool, emptyLevel, 0, 1);
      const emptyUrl = await createDatabase(server, "replica_empty");
      await tether(["store", "migrate", "--from", `level:${emptyLevel}`, "--to", emptyUrl, ...kekArgs, "--json"]);

      // The big one: devices into LevelDB, migrated, then the jobs by COPY.
      const bigLevel = join(tmp, "level-big");
      prepareDataDir(pool, bigLevel);
      const devMs = await seedDevices(pool, bigLevel, 0, DEVICES);
      seeding.push(`${DEVICES} devices (device + approved request records) into LevelDB in ${secs(devMs)}`);
      ctx.log(seeding[seeding.length - 1] as string);
      const bigUrl = await createDatabase(server, "replica_big");
      let t = performance.now();
      const moved = JSON.parse(await tether(["store", "migrate", "--from", `level:${bigLevel}`, "--to", bigUrl, ...kekArgs, "--json"])) as { records: number };
      seeding.push(`tether store migrate of ${moved.records} records in ${secs(performance.now() - t)}`);
      ctx.log(seeding[seeding.length - 1] as string);
      t = performance.now();
      const devicesUrl = await createDatabase(server, "replica_devices", "replica_big");
      seeding.push(`a copy of that database, for the devices-only start, in ${secs(performance.now() - t)}`);
      const copied = await copyFinishedJobs(pool, bigUrl, JOBS, DEVICES, ctx.log);
      seeding.push(
        `${JOBS} finished jobs (${copied.rows} rows: job, deviceJobs and ownerJobs entries) by COPY in ${secs(copied.copyMs)}, the primary key added again in ${secs(copied.indexMs)}, VACUUM ANALYZE + CHECKPOINT in ${secs(copied.vacuumMs)}`,
      );
      ctx.log(seeding[seeding.length - 1] as string);
      notes.push(`database with the jobs: ${await describeDatabase(bigUrl)}`, `devices-only database: ${await describeDatabase(devicesUrl)}`);

      // Each replica's own data directory (its server certificate; the first start issues it).
      const replica = (name: string) => {
        const dir = join(tmp, name);
        mkdirSync(dir, { mode: 0o700 });
        return dir;
      };
      const starts = {
        empty: { dir: replica("replica-empty"), args: ["--store", emptyUrl, ...kekArgs] },
        full: { dir: replica("replica-big"), args: ["--store", bigUrl, ...kekArgs] },
        devicesOnly: { dir: replica("replica-devices"), args: ["--store", devicesUrl, ...kekArgs] },
        level: { dir: bigLevel, args: [] as string[] },
      };
      const warm: string[] = [];
      for (const [name, s] of Object.entries(starts)) {
        const w = await tetherStart(fleet, s.dir, s.args, name === "full" ? { during: async () => void notes.push(await checkJobs(pool, s.dir, DEVICES, JOBS)) } : {});
        warm.push(`${name} ${fmt(w)}`);
      }
      ctx.log(`warm-up starts (not counted): ${warm.join("; ")}`);
      for (let rep = 0; rep < reps; rep++) {
        empty.push(await tetherStart(fleet, starts.empty.dir, starts.empty.args));
        full.push(await tetherStart(fleet, starts.full.dir, starts.full.args));
        devicesOnly.push(await tetherStart(fleet, starts.devicesOnly.dir, starts.devicesOnly.args));
        level.push(await tetherStart(fleet, starts.level.dir, starts.level.args));
        ctx.log(
          `rep ${rep + 1}/${reps}: empty database ${fmt(empty[rep] as Start)}; ${DEVICES} devices + ${JOBS} jobs ${fmt(full[rep] as Start)}; devices only ${fmt(devicesOnly[rep] as Start)}; LevelDB ${fmt(level[rep] as Start)}`,
        );
      }

      // What the start spends its time on, when it misses the target (not in the figures).
      const median = [...full].sort((a, b) => a.registeredMs - b.registeredMs)[full.length >> 1] as Start;
      if (median.registeredMs >= TARGET_MS || process.env.BENCH_PROFILE === "1") {
        notes.push(...(await readCosts(bigUrl)));
        const profDir = join(tmp, "profile");
        mkdirSync(profDir);
        const pr = await tetherStart(fleet, starts.full.dir, starts.full.args, { nodeArgs: ["--cpu-prof", "--cpu-prof-dir", profDir] });
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
        row(`spawn -> first node registered, LevelDB, the same ${DEVICES} devices, no jobs (baseline column: PostgreSQL, with jobs)`, "ms", reg(level), reg(full)),
      ],
      notes: [
        "spawn -> registered: from spawning `node bin/tether daemon --store postgresql://... --kek-file F` (TypeScript through tsx) until a node that connects as soon as the ready line appears gets `registered` on its Node.Connect stream; the ready line is printed once the listener is bound",
        "baseline: the same daemon on a database that holds only the CA's vault and the connecting node's device (a database with nothing in it would make a new CA on the first start, which no later start repeats)",
        pool.describe(),
        `seeding (${((performance.now() - started) / 1000).toFixed(0)} s for the whole benchmark): ${seeding.join("; ")}`,
        "each configuration had one unmeasured warm-up start first (a replica's first start issues its server certificate; it also puts the database's pages in the OS page cache, so these are process cold starts, not disk-cold ones); the four then alternate in every repetition; the PostgreSQL server is a throw-away one on this machine (Unix socket, fsync off, default shared_buffers 128 MB)",
        ...notes,
      ],
    };
  },
};

function fmt(s: Start): string {
  return `ready ${s.readyMs.toFixed(0)} ms, registered ${s.registeredMs.toFixed(0)} ms`;
}
