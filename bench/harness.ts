/**
 * The benchmark harness: repetitions summarised as median with min and max, rows that put
 * tether's figure beside its baseline's with the ratio and the target, a table for people and
 * one JSON object per benchmark for machines, and the real daemon as a child process (its own
 * process, real TLS, real LevelDB in a temp dir) with its CPU time and RSS read from /proc.
 */
import { execFileSync, fork, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const BIN = join(ROOT, "bin", "tether");
export const BENCH_DIR = join(ROOT, "bench");

/**
 * Milliseconds on CLOCK_MONOTONIC, which every process on the machine shares: a time taken in
 * a client process can be compared with one taken here (sub-microsecond resolution).
 */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `tether ARGS` in the checkout (as startDaemonProcess runs it); its stdout. */
export async function tetherCli(args: string[]): Promise<string> {
  const { execFile } = await import("node:child_process");
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`tether ${args.join(" ")} failed: ${stderr.trim() || err.message}`, { cause: err })) : resolve(stdout),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Everything a benchmark starts is registered here, so that a failing benchmark still ends its
// processes and removes its directories (run.ts calls cleanup() after each benchmark, and the
// process's exit hook catches the rest).

const liveChildren = new Set<ChildProcess>();
const exitHooks: (() => void)[] = [];

function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.on("exit", () => liveChildren.delete(child));
}

/** Run `fn` when the bench process exits (synchronous work only: rm, kill). */
export function onExit(fn: () => void): void {
  exitHooks.push(fn);
}

/** SIGKILL every child still alive (its own process only; each was started by the bench). */
export function killChildren(): number {
  let n = 0;
  for (const c of liveChildren) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      try {
        process.kill(c.pid, "SIGKILL");
        n++;
      } catch {
        // already gone
      }
    }
  }
  liveChildren.clear();
  return n;
}

process.on("exit", () => {
  killChildren();
  for (const h of exitHooks.splice(0)) {
    try {
      h();
    } catch {
      // best effort at exit
    }
  }
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n# ${sig}: stopping children and removing temp dirs\n`);
    process.exit(130);
  });
}

/** A figure over repetitions. */
export type Stat = { median: number; min: number; max: number; runs: number[] };

export function stat(xs: readonly number[]): Stat {
  if (xs.length === 0) throw new Error("stat of no values");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number, runs: [...xs] };
}

/** The p-th percentile (nearest rank) of samples. */
export function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

/**
 * One line of a benchmark's table. `ratio` is tether / baseline (for a "higher is better"
 * figure like throughput, a ratio of 0.5 means half the baseline's). `target` says what the
 * issue asks for, in words, and `met` whether the median reaches it.
 */
export type Row = {
  metric: string;
  unit: string;
  tether: Stat;
  baseline?: Stat;
  ratio?: number;
  target?: string;
  met?: boolean;
};

export type BenchResult = {
  name: string;
  /** what was measured and how (node counts, repetitions, sizes) */
  params: Record<string, string | number | boolean>;
  rows: Row[];
  notes?: string[];
};

export type BenchContext = {
  /** repetitions per figure (--reps, default per benchmark) */
  reps?: number;
  /** progress lines (stderr; never mixed into --json output) */
  log: (line: string) => void;
  /** a fresh temp directory, removed when the benchmark ends */
  tmp(prefix?: string): string;
};

export type Bench = { name: string; summary: string; run(ctx: BenchContext): Promise<BenchResult> };

/** Run `fn` n times in sequence. */
export async function repeat<T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await fn(i));
  return out;
}

/** A row comparing tether with a baseline; the ratio is of the medians. */
export function row(metric: string, unit: string, tether: number[], baseline?: number[], target?: { text: string; met: (ratio: number, tether: Stat) => boolean }): Row {
  const t = stat(tether);
  const r: Row = { metric, unit, tether: t };
  if (baseline?.length) {
    r.baseline = stat(baseline);
    // no ratio against a zero (e.g. a time that is 0 because the event had already happened)
    if (r.baseline.median !== 0) r.ratio = t.median / r.baseline.median;
  }
  if (target) {
    r.target = target.text;
    r.met = target.met(r.ratio ?? Number.NaN, t);
  }
  return r;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1000 ? x.toFixed(0) : a >= 100 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toFixed(3);
}

function cell(s?: Stat): string {
  if (!s) return "";
  return s.runs.length > 1 ? `${fmt(s.median)} (${fmt(s.min)}..${fmt(s.max)})` : fmt(s.median);
}

/** The table for people: one line per row, median (min..max), baseline, ratio, target. */
export function formatTable(r: BenchResult): string {
  const head = ["metric", "unit", "tether", "baseline", "ratio", "target", "met"];
  const lines = r.rows.map((x) => [
    x.metric,
    x.unit,
    cell(x.tether),
    cell(x.baseline),
    x.ratio === undefined ? "" : `${fmt(x.ratio)}x`,
    x.target ?? "",
    x.met === undefined ? "" : x.met ? "yes" : "NO",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const out = [head, ...lines].map((l) =>
    l
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd(),
  );
  const params = Object.entries(r.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return [`## ${r.name}  ${params}`, ...out, ...(r.notes ?? []).map((n) => `  note: ${n}`), ""].join("\n");
}

/** A markdown table of the same (for docs/benchmarks.md). */
export function formatMarkdown(r: BenchResult): string {
  const lines = [
    "| metric | unit | tether median (min..max) | baseline median (min..max) | ratio | target | met |",
    "|---|---|---|---|---|---|---|",
    ...r.rows.map(
      (x) =>
        `| ${x.metric} | ${x.unit} | ${cell(x.tether)} | ${cell(x.baseline)} | ${x.ratio === undefined ? "" : `${fmt(x.ratio)}x`} | ${x.target ?? ""} | ${x.met === undefined ? "" : x.met ? "yes" : "**no**"} |`,
    ),
  ];
  return lines.join("\n");
}

export function tempDir(prefix = "tether-bench-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** CPU time (user + system) of a process in ms, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  const t = processCpuTimes(pid);
  return t.userMs + t.systemMs;
}

/** User and system CPU time of a process (all its threads, or thread `tid` alone) in ms, from /proc (Linux). */
export function processCpuTimes(pid: number, tid?: number): { userMs: number; systemMs: number } {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, "utf8");
  // fields after the command (which may contain spaces) start after the last ')'
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { userMs: (Number(f[11]) * 1000) / CLOCK_TICKS, systemMs: (Number(f[12]) * 1000) / CLOCK_TICKS }; // utime, stime (fields 14 and 15)
}
const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux x86_64 and arm64

/** Resident set size of a process in KiB, from /proc (Linux). */
export function processRssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : Number.NaN;
}

export type DaemonProcess = {
  pid: number;
  listen: string;
  port: number;
  adminSocket: string;
  dataDir: string;
  caFingerprint: string;
  /** host:port of the metrics server, when started with --metrics */
  metrics?: string;
  child: ChildProcess;
  stderr(): string;
  cpuMs(): number;
  rssKiB(): number;
  /** SIGTERM (the daemon closes its connections first), SIGKILL after `timeoutMs` */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL (when its store is thrown away anyway): the kernel closes its sockets, server side first */
  kill(): Promise<void>;
};

/**
 * `tether daemon` as a child process on 127.0.0.1:0 in `dataDir`; resolves at its ready line
 * (with the time that took). `nodeArgs` go to node itself (e.g. --max-old-space-size).
 */
export async function startDaemonProcess(
  dataDir: string,
  o: { args?: string[]; env?: NodeJS.ProcessEnv; nodeArgs?: string[]; timeoutMs?: number; listen?: string } = {},
): Promise<DaemonProcess & { readyMs: number; spawnedAtMono: number }> {
  const t0 = performance.now();
  const t0Mono = monoMs();
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), BIN, "daemon", "--data-dir", dataDir, "--listen", o.listen ?? "127.0.0.1:0", "--json", ...(o.args ?? [])], {
    env: { ...process.env, ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  trackChild(child);
  const exited = new Promise<void>((r) => child.on("close", () => r()));
  let out = "";
  let err = "";
  child.stderr?.on("data", (d) => {
    err += d;
    if (err.length > 1 << 20) err = err.slice(-(1 << 19)); // keep the tail of a chatty log
  });
  const ready = await new Promise<{ listen: string; adminSocket: string; caFingerprint: string; metrics?: string }>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`daemon not ready in ${o.timeoutMs ?? 60_000} ms: ${err.slice(-2000)}`));
    }, o.timeoutMs ?? 60_000);
    child.stdout?.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes('"ready"'));
      if (line) {
        clearTimeout(t);
        resolve(JSON.parse(line) as { listen: string; adminSocket: string; caFingerprint: string; metrics?: string });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`daemon exited ${code}: ${err.slice(-2000)}`));
    });
  });
  const readyMs = performance.now() - t0;
  const pid = child.pid as number;
  return {
    pid,
    readyMs,
    spawnedAtMono: t0Mono,
    port: Number(ready.listen.slice(ready.listen.lastIndexOf(":") + 1)),
    listen: ready.listen,
    adminSocket: ready.adminSocket,
    caFingerprint: ready.caFingerprint,
    ...(ready.metrics ? { metrics: ready.metrics } : {}),
    dataDir,
    child,
    stderr: () => err,
    cpuMs: () => processCpuMs(pid),
    rssKiB: () => processRssKiB(pid),
    stop: async (timeoutMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        await exited;
        clearTimeout(t);
      }
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Helper processes (fleet clients, the baseline server, pairing workers): bench/*.ts scripts run
// with tsx and an IPC channel. Messages are plain objects with a `type`.

export type Msg = { type: string; [k: string]: unknown };

export type ScriptProcess = {
  pid: number;
  child: ChildProcess;
  send(m: Msg): void;
  /** Every message of `type`. */
  on(type: string, fn: (m: Msg) => void): void;
  /** The next message of `type` (matching `pred`), or an error if the process exits or time runs out. */
  next(type: string, timeoutMs?: number, pred?: (m: Msg) => boolean): Promise<Msg>;
  stderr(): string;
  cpuMs(): number;
  rssKiB(): number;
  /** Ask it to exit (SIGTERM), SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
};

/** Fork `bench/<script>` with tsx and IPC. */
export function forkScript(script: string, args: string[] = [], o: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}): ScriptProcess {
  const child = fork(join(BENCH_DIR, script), args, {
    execArgv: ["--import", "tsx", ...(o.nodeArgs ?? [])],
    env: { ...process.env, ...o.env },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  trackChild(child);
  let err = "";
  child.stderr?.on("data", (d) => {
    err += d;
    if (err.length > 1 << 20) err = err.slice(-(1 << 19));
  });
  child.stdout?.on("data", () => undefined);
  const handlers = new Map<string, Set<(m: Msg) => void>>();
  child.on("message", (raw) => {
    const m = raw as Msg;
    for (const h of handlers.get(m.type) ?? []) h(m);
  });
  const exited = new Promise<void>((r) => child.on("close", () => r()));
  const on = (type: string, fn: (m: Msg) => void) => {
    let set = handlers.get(type);
    if (!set) handlers.set(type, (set = new Set()));
    set.add(fn);
    return () => set?.delete(fn);
  };
  return {
    pid: child.pid as number,
    child,
    send: (m) => {
      if (child.connected) child.send(m);
    },
    on: (type, fn) => void on(type, fn),
    next: (type, timeoutMs = 120_000, pred) =>
      new Promise<Msg>((resolve, reject) => {
        const done = () => {
          clearTimeout(t);
          off();
          child.off("exit", onExit);
        };
        const off = on(type, (m) => {
          if (pred && !pred(m)) return;
          done();
          resolve(m);
        });
        const onExit = (code: number | null) => {
          done();
          reject(new Error(`${script} exited (${code}) while waiting for ${type}: ${err.slice(-1500)}`));
        };
        child.on("exit", onExit);
        const t = setTimeout(() => {
          done();
          reject(new Error(`${script}: no ${type} within ${timeoutMs} ms: ${err.slice(-1500)}`));
        }, timeoutMs);
      }),
    stderr: () => err,
    cpuMs: () => processCpuMs(child.pid as number),
    rssKiB: () => processRssKiB(child.pid as number),
    stop: async (timeoutMs = 5000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Established TCP connections whose local port is `port` (the server side), from `ss`. */
export function establishedOn(port: number): number {
  try {
    const out = execFileSync("ss", ["-Htn", "state", "established", `( sport = :${port} )`], { encoding: "utf8", maxBuffer: 64 << 20 });
    return out.split("\n").filter((l) => l.trim()).length;
  } catch {
    return Number.NaN;
  }
}

/** Sockets in TIME-WAIT on this machine (to watch ephemeral ports between repetitions). */
export function timeWaitCount(): number {
  try {
    const out = execFileSync("ss", ["-Htn", "state", "time-wait"], { encoding: "utf8", maxBuffer: 64 << 20 });
    return out.split("\n").filter((l) => l.trim()).length;
  } catch {
    return Number.NaN;
  }
}

/** Wait until `fn()` is true, polling every `everyMs`. */
export async function until(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000, everyMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Split `n` items into `k` contiguous ranges as even as possible. */
export function ranges(n: number, k: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < k; i++) out.push([Math.floor((i * n) / k), Math.floor(((i + 1) * n) / k)]);
  return out;
}

/** Default repetitions: --reps, else BENCH_REPS, else the benchmark's own default. */
export function repsOf(ctx: BenchContext, fallback: number): number {
  return ctx.reps ?? (process.env.BENCH_REPS ? Number(process.env.BENCH_REPS) : fallback);
}

/** BENCH_PROFILE=1: also take a CPU profile of the daemon (a separate run, not measured). */
export const PROFILE = process.env.BENCH_PROFILE === "1";
