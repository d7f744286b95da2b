/**
 * npm run bench -- --only startup: daemon cold start (a new process) until it accepts a node
 * stream, i.e. the first node's Node.Connect answers `registered`, with an empty store and with
 * 100,000 devices and 1,000,000 finished jobs in the store; also 100,000 devices without jobs,
 * to show what the finished jobs add. Baseline, in the same run: the bare grpc-js server
 * (bench/baseline-server.ts, also TypeScript through tsx) started the same way until a node's
 * stream is answered.
 */
import { cpSync } from "node:fs";
import { join } from "node:path";
import type { Bench, BenchContext, BenchResult } from "./harness.ts";
import { repsOf, row, startDaemonProcess } from "./harness.ts";
import { startBaselineServer, startFleet } from "./fleet.ts";
import type { Fleet } from "./fleet.ts";
import { credsOf, devicePool, prepareDataDir, seedDevices, seedFinishedJobs } from "./seed.ts";

const DEVICES = Number(process.env.BENCH_STARTUP_DEVICES ?? 100_000);
const JOBS = Number(process.env.BENCH_STARTUP_JOBS ?? 1_000_000);

type Start = { readyMs: number; registeredMs: number };

async function tetherStart(fleet: Fleet, dataDir: string): Promise<Start> {
  const d = await startDaemonProcess(dataDir, { timeoutMs: 300_000 });
  try {
    const c = await fleet.connect({ mode: "tether", address: d.listen, concurrency: 1 });
    if (c.ok !== 1) throw new Error(`the node did not register: ${c.errors.join("; ")}`);
    return { readyMs: d.readyMs, registeredMs: c.lastAt - d.spawnedAtMono };
  } finally {
    // graceful: a killed LevelDB would replay its log at the next start
    await d.stop(120_000);
    await fleet.reset();
  }
}

async function baselineStart(fleet: Fleet, dataDir: string): Promise<Start> {
  const srv = await startBaselineServer(dataDir);
  try {
    const c = await fleet.connect({ mode: "baseline", address: srv.address, concurrency: 1 });
    if (c.ok !== 1) throw new Error(`the node did not register with the baseline: ${c.errors.join("; ")}`);
    return { readyMs: srv.readyAtMono - srv.spawnedAtMono, registeredMs: c.lastAt - srv.spawnedAtMono };
  } finally {
    await srv.stop();
    await fleet.reset();
  }
}

export const bench: Bench = {
  name: "startup",
  summary: "cold start to accepting a node stream: empty store, and 100,000 devices + 1,000,000 finished jobs",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const reps = repsOf(ctx, 3);
    const pool = await devicePool(DEVICES, ctx.log);
    const node = credsOf(pool.devices.slice(0, 1));
    const fleet = await startFleet(1, ctx.tmp("tether-bench-fleet-"));
    const empty: Start[] = [];
    const base: Start[] = [];
    const devicesOnly: Start[] = [];
    const full: Start[] = [];
    const seeding: string[] = [];
    try {
      await fleet.prepare(pool.caPem, node);
      const emptyDir = join(ctx.tmp("tether-bench-startup-empty-"), "data");
      prepareDataDir(pool, emptyDir);
      await seedDevices(pool, emptyDir, 0, 1);
      for (let rep = 0; rep < reps; rep++) {
        empty.push(await tetherStart(fleet, emptyDir));
        base.push(await baselineStart(fleet, emptyDir));
        ctx.log(`rep ${rep + 1}/${reps}: empty store ${fmt(empty[rep] as Start)}; bare server ${fmt(base[rep] as Start)}`);
      }

      // Two stores with the same 100,000 devices, one of them also with the finished jobs; their
      // starts alternate, so that the machine's drift affects both alike.
      const bigDir = join(ctx.tmp("tether-bench-startup-big-"), "data");
      prepareDataDir(pool, bigDir);
      const devMs = await seedDevices(pool, bigDir, 0, DEVICES);
      seeding.push(`${DEVICES} devices (device + approved request records) in ${(devMs / 1000).toFixed(1)} s`);
      ctx.log(`seeded ${DEVICES} devices in ${(devMs / 1000).toFixed(1)} s`);
      const jobsDir = join(ctx.tmp("tether-bench-startup-jobs-"), "data");
      cpSync(bigDir, jobsDir, { recursive: true });
      const jobMs = await seedFinishedJobs(pool, jobsDir, JOBS, DEVICES, ctx.log);
      seeding.push(`${JOBS} finished jobs in ${(jobMs / 1000).toFixed(1)} s (unsynced batches of 10,000; into a copy of the device store)`);
      ctx.log(`seeded ${JOBS} finished jobs in ${(jobMs / 1000).toFixed(1)} s`);
      ctx.log(`warm-up starts (not counted): ${DEVICES} devices ${fmt(await tetherStart(fleet, bigDir))}; with ${JOBS} jobs ${fmt(await tetherStart(fleet, jobsDir))}`);
      for (let rep = 0; rep < reps; rep++) {
        devicesOnly.push(await tetherStart(fleet, bigDir));
        full.push(await tetherStart(fleet, jobsDir));
        ctx.log(`rep ${rep + 1}/${reps}: ${DEVICES} devices ${fmt(devicesOnly[rep] as Start)}; + ${JOBS} finished jobs ${fmt(full[rep] as Start)}`);
      }
    } finally {
      await fleet.stop();
    }
    const reg = (xs: Start[]) => xs.map((x) => x.registeredMs);
    const rdy = (xs: Start[]) => xs.map((x) => x.readyMs);
    return {
      name: "startup",
      params: { reps, devices: DEVICES, finishedJobs: JOBS },
      rows: [
        row("spawn -> first node registered, empty store", "ms", reg(empty), reg(base), { text: "< 1000 ms", met: (_r, s) => s.median < 1000 }),
        row(`spawn -> first node registered, ${DEVICES} devices + ${JOBS} finished jobs`, "ms", reg(full), reg(base), { text: "< 3000 ms", met: (_r, s) => s.median < 3000 }),
        row(`spawn -> first node registered, ${DEVICES} devices, no jobs`, "ms", reg(devicesOnly), reg(base)),
        row("spawn -> ready line, empty store", "ms", rdy(empty), rdy(base)),
        row(`spawn -> ready line, ${DEVICES} devices + ${JOBS} finished jobs`, "ms", rdy(full), rdy(base)),
        row(`${JOBS} finished jobs' effect: registered with jobs vs without (baseline column = without)`, "ms", reg(full), reg(devicesOnly), {
          text: "<= 1.2x: finished jobs must not slow the start (1.2: this machine's run-to-run noise)",
          met: (r) => r <= 1.2,
        }),
      ],
      notes: [
        "spawn -> registered: from spawning `node bin/tether daemon` (TypeScript through tsx, as npm start does) until a node that connects as soon as the ready line appears gets `registered` on its Node.Connect stream (its TLS context made beforehand); the ready line is printed once the listener is bound",
        "baseline: bench/baseline-server.ts spawned the same way (node + tsx + grpc-js, mutual TLS), until a node's stream is answered",
        pool.describe(),
        `'empty store' holds only the connecting node's device; the big stores were seeded once (${seeding.join("; ")}) and reused by every start (each start is a new process on the same data directory; the node's presence is all a start writes); one unmeasured warm-up start of each big store first lets LevelDB settle (compaction) and puts both in the page cache alike (so these are process cold starts, not disk-cold ones); the two big stores' starts alternate`,
      ],
    };
  },
};

function fmt(s: Start): string {
  return `ready ${s.readyMs.toFixed(0)} ms, registered ${s.registeredMs.toFixed(0)} ms`;
}
