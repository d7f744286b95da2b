/**
 * npm run bench -- --only dispatch: round-trip jobs per second through the daemon
 * (orchestrator -> daemon -> node -> daemon -> orchestrator), with 1 node and with 50 nodes,
 * at 1 and at 64 jobs in flight, with p50 and p99 latency. Baseline, in the same run: a bare
 * grpc-js relay (bench/baseline-server.ts) doing the same two hops with the same message
 * sizes over mutual TLS, with no persistence and no checks.
 *
 * tether: the orchestrator is a paired orchestrator device on one mutual-TLS channel (in this
 * process); a job is Orchestrator.Run (dispatch and wait for the final job, one RPC), or
 * Dispatch then WatchJob with BENCH_DISPATCH_API=watch or a daemon without Run.
 * The nodes are raw Node.Connect streams in a client process that answer each job with its
 * input as output. The daemon persists every transition (accepted and finished fsynced).
 *
 * The cost of the metrics, in the same run: each repetition also runs the daemon with
 * `--metrics` while this process scrapes /metrics every SCRAPE_MS (far more often than
 * Prometheus would), the two tether runs in alternating order, and the rows "with --metrics"
 * put its figures beside those without.
 */
import { request } from "node:http";
import { copyFileSync, cpSync, mkdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import type { Bench, BenchContext, BenchResult, Row } from "./harness.ts";
import { PROFILE, monoMs, pct, repsOf, row, startDaemonProcess } from "./harness.ts";
import { orchestratorClient, relayClient } from "./clients.ts";
import type { Rpc } from "./clients.ts";
import { startBaselineServer, startFleet } from "./fleet.ts";
import type { Fleet } from "./fleet.ts";
import { newestProfile, profileLines, summarize } from "./profile.ts";
import { credsOf, devicePool, prepareDataDir, seedDevices } from "./seed.ts";
import type { DeviceCreds } from "./seed.ts";

const NODES = 50;
/** jobs measured at 1 in flight, and at 64 in flight, per configuration and repetition */
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 300);
const TOTAL = Number(process.env.BENCH_TOTAL ?? 2000);
const WARMUP = 50;
const INPUT = Buffer.from(JSON.stringify({ payload: "x".repeat(200) }));
/** How often the daemon with --metrics is scraped while it is measured. */
const SCRAPE_MS = Number(process.env.BENCH_SCRAPE_MS ?? 1000);

type Config = { nodes: 1 | 50; inFlight: 1 | 64 };
const CONFIGS: Config[] = [
  { nodes: 1, inFlight: 1 },
  { nodes: 1, inFlight: 64 },
  { nodes: 50, inFlight: 1 },
  { nodes: 50, inFlight: 64 },
];
/** cpuMsPerJob: CPU time (user + system) of the server process (daemon or relay) per job */
type Figures = { perSecond: number; p50: number; p99: number; cpuMsPerJob: number };
type Rep = Figures[]; // by CONFIGS index

type Job = { id: string; state: string };

/**
 * How the orchestrator waits for a job: "run" = Orchestrator.Run, one call that answers with
 * the final job (the default when the daemon has it); "watch" = Dispatch, then WatchJob until
 * a final state (two RPCs). BENCH_DISPATCH_API=watch forces the second.
 */
let api: "run" | "watch" = process.env.BENCH_DISPATCH_API === "watch" ? "watch" : "run";

/** One tether job, answered when final; it must have succeeded. */
function tetherJob(o: Rpc, deviceId: string): Promise<void> {
  const req = { deviceId, capability: "echo", input: INPUT, timeoutMs: 60_000, idempotencyKey: "" };
  if (api === "run") {
    return o.call<Job>("Run", req).then(
      (j) => {
        if (j.state !== "succeeded") throw new Error(`job ${j.id} ended ${j.state}`);
      },
      (err: { code?: number }) => {
        if (err.code !== 12) throw err; // UNIMPLEMENTED: an older daemon without Run
        api = "watch";
        return tetherJob(o, deviceId);
      },
    );
  }
  return o.call<Job>("Dispatch", req).then(
    (j) =>
      new Promise<void>((resolve, reject) => {
        const w = o.client.WatchJob({ id: j.id });
        let last = "";
        w.on("data", (x: Job) => (last = x.state));
        w.on("error", reject);
        w.on("end", () => (last === "succeeded" ? resolve() : reject(new Error(`job ${j.id} ended ${last}`))));
      }),
  );
}

/** One baseline job: the relay's Call, answered by the node's echo. */
function relayJob(o: Rpc, deviceId: string): Promise<void> {
  return o.call("Call", { id: "", body: INPUT, to: deviceId }).then(() => undefined);
}

async function measure(one: (deviceId: string) => Promise<void>, devices: string[], c: Config, serverCpuMs: () => number): Promise<Figures> {
  let rr = 0;
  const pick = () => devices[rr++ % c.nodes] as string;
  for (let i = 0; i < WARMUP; i++) await one(pick());
  const total = c.inFlight === 1 ? SEQUENTIAL : TOTAL;
  const lat: number[] = [];
  let next = 0;
  const cpu0 = serverCpuMs();
  const t0 = monoMs();
  await Promise.all(
    Array.from({ length: c.inFlight }, async () => {
      while (next++ < total) {
        const t = monoMs();
        await one(pick());
        lat.push(monoMs() - t);
      }
    }),
  );
  const secs = (monoMs() - t0) / 1000;
  return { perSecond: total / secs, p50: pct(lat, 50), p99: pct(lat, 99), cpuMsPerJob: (serverCpuMs() - cpu0) / total };
}

async function runConfigs(fleet: Fleet, mode: "tether" | "baseline", address: string, one: (id: string) => Promise<void>, ids: string[], serverCpuMs: () => number): Promise<Rep> {
  const out: Rep = [];
  await fleet.connect({ mode, address, concurrency: 8, echo: true, limitPerClient: 1 });
  out.push(await measure(one, ids, CONFIGS[0] as Config, serverCpuMs), await measure(one, ids, CONFIGS[1] as Config, serverCpuMs));
  await fleet.connect({ mode, address, concurrency: 8, echo: true, limitPerClient: NODES });
  out.push(await measure(one, ids, CONFIGS[2] as Config, serverCpuMs), await measure(one, ids, CONFIGS[3] as Config, serverCpuMs));
  return out;
}

export const bench: Bench = {
  name: "dispatch",
  summary: "job round trips through the daemon, 1 and 50 nodes, 1 and 64 in flight, against a bare grpc-js relay",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const reps = repsOf(ctx, 3);
    const pool = await devicePool(NODES + 1, ctx.log);
    const nodes = credsOf(pool.devices.slice(0, NODES));
    const orch = credsOf([pool.devices[NODES] as (typeof pool.devices)[number]])[0] as DeviceCreds;
    const ids = nodes.map((n) => n.id);
    const template = join(ctx.tmp("tether-bench-dispatch-"), "data");
    prepareDataDir(pool, template);
    await seedDevices(pool, template, 0, NODES + 1, (i) => (i === NODES ? "orchestrator" : "node"));
    const work = ctx.tmp("tether-bench-dispatch-run-");
    const fleet = await startFleet(1, ctx.tmp("tether-bench-fleet-"));
    const t: Rep[] = [];
    const tm: Rep[] = [];
    const b: Rep[] = [];
    const notes: string[] = [];
    const scrapes = { n: 0, bytes: 0, ms: [] as number[] };
    try {
      await fleet.prepare(pool.caPem, nodes);
      for (let rep = 0; rep < reps; rep++) {
        // Without and with --metrics, in alternating order (so neither always runs first).
        for (const withMetrics of rep % 2 ? [true, false] : [false, true]) {
          ctx.log(`rep ${rep + 1}/${reps}: tether${withMetrics ? " --metrics" : ""}`);
          const r = await tetherRep(
            fleet,
            template,
            join(work, `t${rep}${withMetrics ? "m" : ""}`),
            pool.caPem,
            orch,
            ids,
            undefined,
            undefined,
            withMetrics ? scrapes : undefined,
          );
          (withMetrics ? tm : t).push(r);
          ctx.log(`  tether${withMetrics ? " --metrics" : ""}: ${fmt(r)}`);
        }
        ctx.log(`rep ${rep + 1}/${reps}: baseline`);
        b.push(await baselineRep(fleet, template, pool.caPem, orch, ids));
        ctx.log(`  baseline: ${fmt(b[rep] as Rep)}`);
      }
      if (PROFILE) {
        ctx.log("profile run (BENCH_PROFILE=1): 50 nodes, 64 in flight, daemon with --cpu-prof");
        const profDir = ctx.tmp("tether-bench-dispatch-prof-");
        const window = { from: 0, to: 0 };
        await tetherRep(fleet, template, join(work, "prof"), pool.caPem, orch, ids, profDir, window, process.env.BENCH_PROFILE_METRICS === "1" ? scrapes : undefined);
        const f = newestProfile(profDir);
        const keep = process.env.BENCH_KEEP_PROFILE;
        if (f && keep) {
          mkdirSync(keep, { recursive: true });
          copyFileSync(f, join(keep, basename(f)));
          notes.push(`profile kept in ${join(keep, basename(f))}`);
        }
        if (f) {
          const lines = profileLines("daemon CPU profile (dispatch: the four configurations, start-up excluded)", summarize(f, 15, window));
          for (const l of lines) ctx.log(l);
          notes.push(...lines);
        }
      }
    } finally {
      await fleet.stop();
    }
    const rows: Row[] = [];
    CONFIGS.forEach((c, i) => {
      const label = `${c.nodes} node${c.nodes > 1 ? "s" : ""}, ${c.inFlight} in flight`;
      const tt = t.map((r) => r[i] as Figures);
      const bb = b.map((r) => r[i] as Figures);
      rows.push(
        row(
          `throughput, ${label}`,
          "jobs/s",
          tt.map((f) => f.perSecond),
          bb.map((f) => f.perSecond),
          { text: ">= 0.5x baseline", met: (r) => r >= 0.5 },
        ),
        row(
          `p50 latency, ${label}`,
          "ms",
          tt.map((f) => f.p50),
          bb.map((f) => f.p50),
        ),
        row(
          `p99 latency, ${label}`,
          "ms",
          tt.map((f) => f.p99),
          bb.map((f) => f.p99),
          { text: "<= 3x baseline", met: (r) => r <= 3 },
        ),
        row(
          `server CPU per job, ${label}`,
          "ms",
          tt.map((f) => f.cpuMsPerJob),
          bb.map((f) => f.cpuMsPerJob),
        ),
      );
    });
    // The metrics' cost: tether with --metrics (and scraped) against tether without, same run.
    CONFIGS.forEach((c, i) => {
      const label = `${c.nodes} node${c.nodes > 1 ? "s" : ""}, ${c.inFlight} in flight`;
      const on = tm.map((r) => r[i] as Figures);
      const off = t.map((r) => r[i] as Figures);
      rows.push(
        row(
          `--metrics: throughput, ${label} (baseline: without)`,
          "jobs/s",
          on.map((f) => f.perSecond),
          off.map((f) => f.perSecond),
          { text: ">= 0.95x without", met: (r) => r >= 0.95 },
        ),
        row(
          `--metrics: server CPU per job, ${label} (baseline: without)`,
          "ms",
          on.map((f) => f.cpuMsPerJob),
          off.map((f) => f.cpuMsPerJob),
        ),
      );
    });
    const scrapeMs = [...scrapes.ms].sort((x, y) => x - y)[scrapes.ms.length >> 1] ?? Number.NaN;
    // The same, paired: each repetition's run with metrics against its run without (they ran
    // one after the other, so under much the same load from outside), then the median.
    const paired = CONFIGS.map((c, i) => {
      const ratios = tm.map((r, k) => (r[i] as Figures).perSecond / ((t[k] as Rep)[i] as Figures).perSecond);
      const cpu = tm.map((r, k) => (r[i] as Figures).cpuMsPerJob / ((t[k] as Rep)[i] as Figures).cpuMsPerJob);
      const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] as number;
      return `${c.nodes}n/${c.inFlight}: throughput ${ratios.map((x) => x.toFixed(3)).join(" ")} (median ${med(ratios).toFixed(3)}), CPU per job ${cpu.map((x) => x.toFixed(3)).join(" ")} (median ${med(cpu).toFixed(3)})`;
    });
    return {
      name: "dispatch",
      params: { reps, sequentialJobs: SEQUENTIAL, jobsAt64: TOTAL, warmup: WARMUP, inputBytes: INPUT.length, orchestratorApi: api, scrapeMs: SCRAPE_MS },
      rows,
      notes: [
        `tether: orchestrator device over one mutual-TLS channel, ${api === "run" ? "Orchestrator.Run (dispatch and wait: one RPC answered with the final job)" : "Dispatch then WatchJob to the final state (two RPCs)"}; the daemon persists each transition as it does in service; nodes are raw Node.Connect streams in one client process answering each job with its input as output`,
        "baseline: bench/baseline-server.ts, bare grpc-js over mutual TLS with the same CA, server certificate and client certificates: one unary Call from the orchestrator relayed on the node's stream and answered when the node echoes; no persistence, no checks, one RPC",
        `each repetition: a fresh daemon on a fresh copy of the seeded store (50 nodes + 1 orchestrator), then the baseline; per configuration ${WARMUP} warm-up jobs, then ${SEQUENTIAL} jobs (1 in flight) or ${TOTAL} (64 in flight, latency of every job); jobs round-robin over the connected nodes; latency = first call sent .. final answer, in this process`,
        pool.describe(),
        `--metrics rows: each repetition also runs a fresh daemon with --metrics 127.0.0.1:0, scraped every ${SCRAPE_MS} ms while it is measured (${scrapes.n} scrapes, ${(scrapes.bytes / Math.max(1, scrapes.n) / 1024).toFixed(1)} KiB and a median ${scrapeMs.toFixed(1)} ms each); the runs with and without metrics alternate in order; the ratio is of the medians`,
        `--metrics, paired by repetition (with / without): ${paired.join("; ")}`,
        ...notes,
      ],
    };
  },
};

function fmt(r: Rep): string {
  return r
    .map((f, i) => `[${(CONFIGS[i] as Config).nodes}n/${(CONFIGS[i] as Config).inFlight}] ${f.perSecond.toFixed(0)}/s p50 ${f.p50.toFixed(2)} p99 ${f.p99.toFixed(2)}`)
    .join("  ");
}

async function tetherRep(
  fleet: Fleet,
  template: string,
  dataDir: string,
  caPem: string,
  orch: DeviceCreds,
  ids: string[],
  profileDir?: string,
  window?: { from: number; to: number },
  scrapes?: { n: number; bytes: number; ms: number[] },
): Promise<Rep> {
  cpSync(template, dataDir, { recursive: true });
  const d = await startDaemonProcess(dataDir, {
    ...(profileDir ? { nodeArgs: ["--cpu-prof", "--cpu-prof-dir", profileDir] } : {}),
    ...(scrapes ? { args: ["--metrics", "127.0.0.1:0"] } : {}),
  });
  const o = orchestratorClient(d.listen, caPem, orch);
  const scraper = scrapes ? scrapeEvery(d.metrics as string, SCRAPE_MS, scrapes) : undefined;
  try {
    if (window) window.from = monoMs();
    const r = await runConfigs(
      fleet,
      "tether",
      d.listen,
      (id) => tetherJob(o, id),
      ids,
      () => d.cpuMs(),
    );
    if (window) window.to = monoMs();
    return r;
  } finally {
    await scraper?.stop();
    o.close();
    await d.stop(profileDir ? 60_000 : 10_000);
    await fleet.reset();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** GET /metrics every `everyMs` (one at a time) until stopped; each must answer 200 with tether's metrics. */
function scrapeEvery(address: string, everyMs: number, into: { n: number; bytes: number; ms: number[] }): { stop(): Promise<void> } {
  const i = address.lastIndexOf(":");
  let stopped = false;
  let failure: Error | undefined;
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const t0 = monoMs();
      const req = request({ host: address.slice(0, i), port: Number(address.slice(i + 1)), path: "/metrics", agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          if (res.statusCode !== 200 || !body.includes("tether_jobs_finished_total")) return reject(new Error(`scrape answered ${res.statusCode}`));
          into.n++;
          into.bytes += body.length;
          into.ms.push(monoMs() - t0);
          resolve();
        });
      });
      req.on("error", reject);
      req.end();
    });
  let wake = () => {};
  const loop = (async () => {
    while (!stopped) {
      await once().catch((err: Error) => (failure ??= err));
      await new Promise<void>((r) => {
        const t = setTimeout(r, everyMs);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      wake();
      await loop;
      if (failure) throw failure;
    },
  };
}

async function baselineRep(fleet: Fleet, template: string, caPem: string, orch: DeviceCreds, ids: string[]): Promise<Rep> {
  const srv = await startBaselineServer(template);
  const o = relayClient(srv.address, caPem, orch);
  try {
    return await runConfigs(
      fleet,
      "baseline",
      srv.address,
      (id) => relayJob(o, id),
      ids,
      () => srv.cpuMs(),
    );
  } finally {
    o.close();
    await srv.stop();
    await fleet.reset();
  }
}
