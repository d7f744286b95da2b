/**
 * npm run bench [-- --only NAME[,NAME]] [-- --json] [-- --reps N]
 *
 * Runs each benchmark (default: all, in the order below). Each prints a table: tether's figure
 * (median of the repetitions, with min..max), the baseline's from the same run, the ratio and
 * the target. With --json, stdout carries one JSON object per benchmark and nothing else;
 * progress goes to stderr either way.
 */
import { parseArgs } from "node:util";
import { cpus, totalmem } from "node:os";
import type { Bench, BenchContext, BenchResult } from "./harness.ts";
import { formatMarkdown, formatTable, killChildren, onExit, tempDir } from "./harness.ts";

/** name -> module exporting `bench: Bench` (loaded only when run) */
const ALL: Record<string, () => Promise<{ bench: Bench }>> = {
  dispatch: () => import("./dispatch.ts"),
  nodes: () => import("./nodes.ts"),
  pairing: () => import("./pairing.ts"),
  revocation: () => import("./revocation.ts"),
  startup: () => import("./startup.ts"),
  replicas: () => import("./replicas.ts"),
  webhooks: () => import("./webhooks.ts"),
  renewal: () => import("./renewal.ts"),
};
/** Run only when named with --only: replicas needs PostgreSQL and takes about 20 minutes. */
const BY_NAME_ONLY = new Set(["replicas"]);

const { values } = parseArgs({
  options: {
    only: { type: "string", multiple: true },
    json: { type: "boolean", default: false },
    markdown: { type: "boolean", default: false },
    reps: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: false,
});

if (values.help) {
  process.stdout.write(`npm run bench [-- --only NAME[,NAME]] [-- --json] [-- --markdown] [-- --reps N]

Benchmarks: ${Object.keys(ALL).join(", ")} (${[...BY_NAME_ONLY].join(", ")} only with --only)
Each runs the real daemon in its own process (real TLS, real LevelDB in a temp dir) and,
in the same run, its baseline. Figures are medians of N repetitions with min..max.
  --only NAME   run only these (repeat the flag or separate with commas)
  --json        one JSON object per benchmark on stdout (progress on stderr)
  --markdown    also print each table as markdown (for docs/benchmarks.md)
  --reps N      repetitions per figure (each benchmark has its own default)

Environment:
  BENCH_PROFILE=1          dispatch and pairing: one more daemon run under --cpu-prof, its
                           top self-time functions added to the notes (not in the figures);
                           nodes: the first repetition's daemon under --cpu-prof (connects);
                           replicas: one more start under --cpu-prof and the device read timed
                           outside the daemon (done anyway when the start misses 3 s)
  BENCH_KEEP_PROFILE=DIR   nodes, dispatch and replicas: also copy that profile to DIR (for a closer look)
  BENCH_PROFILE_METRICS=1  dispatch: the profiled daemon runs with --metrics (and is scraped)
  BENCH_SCRAPE_MS=N        dispatch: how often the daemon with --metrics is scraped (1000)
  BENCH_REPS=N             as --reps
  BENCH_NODES, BENCH_REVOKE_NODES, BENCH_REVOKE, BENCH_STARTUP_DEVICES, BENCH_STARTUP_JOBS,
  BENCH_SEQUENTIAL, BENCH_TOTAL, BENCH_PAIRINGS_1, BENCH_PAIRINGS_32
                           sizes (defaults: the issue's 10000, 1000, 100, 100000, 1000000;
                           300 and 2000 jobs per dispatch configuration; 16 and 64 pairings)
  BENCH_DISPATCH_API=watch dispatch through Dispatch + WatchJob instead of Orchestrator.Run
  BENCH_REPLICAS_DEVICES, BENCH_REPLICAS_JOBS
                           replicas: devices and finished jobs in the big database (1000000,
                           10000000); PostgreSQL 15 must be installed (test/ensure-tools.sh)
  BENCH_REPLICAS_LEVEL=1   replicas: also the LevelDB daemon with the same devices
  BENCH_REPLICAS_CLUSTER=0, BENCH_REPLICAS_COLD=0
                           replicas: leave out the three-daemon part (dispatch, revocation,
                           failover) or the cold start
  BENCH_CLUSTER_NODES      replicas: nodes connected in the three-daemon part (1000)
  BENCH_CA_API_BUDGET_MS   time allowed for issuing the seeded devices' certificates through
                           the CA API before the rest are re-signed from its template (30000)
`);
  process.exit(0);
}

const names = (values.only ?? []).flatMap((s) => s.split(",")).filter(Boolean);
for (const n of names) {
  if (!ALL[n]) {
    process.stderr.write(`unknown benchmark ${JSON.stringify(n)}; known: ${Object.keys(ALL).join(", ")}\n`);
    process.exit(2);
  }
}
const reps = values.reps === undefined ? undefined : Number(values.reps);
if (reps !== undefined && (!Number.isInteger(reps) || reps < 1)) {
  process.stderr.write(`--reps must be a positive integer, got ${JSON.stringify(values.reps)}\n`);
  process.exit(2);
}

const machine = { nproc: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, cpu: cpus()[0]?.model ?? "" };
process.stderr.write(`# machine: ${machine.nproc} cores, ${machine.memGiB} GiB, Node ${machine.node}, ${machine.cpu}\n`);

let failed = 0;
const started = performance.now();
for (const name of names.length ? names : Object.keys(ALL).filter((n) => !BY_NAME_ONLY.has(n))) {
  const load = ALL[name] as () => Promise<{ bench: Bench }>;
  const dirs: { remove(): void }[] = [];
  const ctx: BenchContext = {
    ...(reps ? { reps } : {}),
    log: (line) => process.stderr.write(`  [${name}] ${line}\n`),
    tmp: (prefix) => {
      const d = tempDir(prefix ?? `tether-bench-${name}-`);
      dirs.push(d);
      onExit(() => d.remove()); // also on Ctrl-C, which skips the finally below
      return d.path;
    },
  };
  const t0 = performance.now();
  process.stderr.write(`# ${name} (${new Date().toISOString()})\n`);
  let result: BenchResult;
  try {
    const { bench } = await load();
    result = await bench.run(ctx);
  } catch (err) {
    failed++;
    process.stderr.write(`# ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
    continue;
  } finally {
    // whatever a failed benchmark left running (its own children only), then its directories
    const killed = killChildren();
    if (killed) process.stderr.write(`# ${name}: killed ${killed} leftover process(es)\n`);
    for (const d of dirs) d.remove();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...result, seconds: Number(seconds.toFixed(1)), machine })}\n`);
  } else {
    process.stdout.write(`${formatTable(result)}  (${seconds.toFixed(1)} s)\n\n`);
  }
  if (values.markdown) process.stderr.write(`${formatMarkdown(result)}\n\n`);
}
process.stderr.write(`# all done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(failed ? 1 : 0);
