/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`): self time per function and per area
 * (tether package, grpc-js, LevelDB, node internals, GC, idle), for the optional
 * BENCH_PROFILE=1 runs of the dispatch and pairing benchmarks.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number };
type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

export type ProfileSummary = {
  totalMs: number;
  top: { name: string; where: string; selfMs: number; pct: number }[];
  areas: { area: string; selfMs: number; pct: number }[];
};

function area(url: string, fn: string): string {
  if (fn === "(idle)") return "idle";
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(program)") return "V8/native (program)";
  if (!url) return "native";
  const pkg = /\/packages\/([^/]+)\//.exec(url);
  if (pkg && !url.includes("node_modules")) return `tether ${pkg[1]}`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1] === "@grpc/grpc-js" ? "grpc-js" : nm[1] === "classic-level" || nm[1] === "abstract-level" || nm[1] === "level" ? "LevelDB (level)" : (nm[1] as string);
  if (url.startsWith("node:")) return `node ${url.slice(5).split("/")[0]}`;
  return "other";
}

function short(url: string): string {
  const i = url.indexOf("/packages/");
  if (i >= 0 && !url.includes("node_modules")) return url.slice(i + 1);
  const j = url.lastIndexOf("node_modules/");
  if (j >= 0) return url.slice(j + 13);
  return url.replace(/^file:\/\//, "");
}

/**
 * Self time by function and by area. With `window` (CLOCK_MONOTONIC ms, as harness.monoMs():
 * V8 stamps its samples on the same clock), only the samples inside it count, so that the
 * process's start-up (module loading) stays out of a summary of the measured work.
 */
export function summarize(file: string, topN = 15, window?: { from: number; to: number }): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = p.startTime / 1000;
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    at += dt;
    if (window && (at < window.from || at > window.to)) continue;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const fns = new Map<string, { name: string; where: string; selfMs: number }>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id) as ProfileNode;
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName || "(anonymous)";
    // (tsx-compiled sources are one line: the line number says nothing there)
    const where = url ? (lineNumber > 0 ? `${short(url)}:${lineNumber + 1}` : short(url)) : "";
    const key = `${name}@${where}`;
    const f = fns.get(key) ?? { name, where, selfMs: 0 };
    f.selfMs += ms;
    fns.set(key, f);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + ms);
    total += ms;
  }
  const busy = total - (areas.get("idle") ?? 0);
  const pct = (ms: number) => (busy ? (100 * ms) / busy : 0);
  return {
    totalMs: total,
    top: [...fns.values()]
      .filter((f) => f.name !== "(idle)")
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, topN)
      .map((f) => ({ ...f, pct: pct(f.selfMs) })),
    areas: [...areas.entries()].map(([area, selfMs]) => ({ area, selfMs, pct: area === "idle" ? Number.NaN : pct(selfMs) })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

/**
 * The main thread's profile in `dir` (files are CPU.<date>.<time>.<pid>.<thread>.<seq>; tsx's
 * loader runs in a worker thread that writes its own), the largest if there are several.
 */
export function newestProfile(dir: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  const main = files.filter((f) => f.split(".")[4] === "0");
  const pick = (main.length ? main : files).map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size);
  return pick[0];
}

/** Text lines for notes and logs: areas, then the top functions by self time (% of busy time). */
export function profileLines(label: string, s: ProfileSummary): string[] {
  const idle = s.areas.find((a) => a.area === "idle")?.selfMs ?? 0;
  return [
    `${label}: ${(s.totalMs / 1000).toFixed(1)} s profiled, ${((100 * idle) / s.totalMs).toFixed(0)} % idle; busy time by area: ${s.areas
      .filter((a) => a.area !== "idle" && a.pct >= 1)
      .map((a) => `${a.area} ${a.pct.toFixed(0)}%`)
      .join(", ")}`,
    `${label}: top self time (% of busy): ${s.top.map((f) => `${f.name} (${f.where}) ${f.pct.toFixed(1)}%`).join("; ")}`,
  ];
}

// `node --import tsx bench/profile.ts FILE.cpuprofile [N]` prints the summary of one profile.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/bench\//, "/bench/"))) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: node --import tsx bench/profile.ts FILE.cpuprofile [TOP]\n");
    process.exit(2);
  }
  for (const l of profileLines(file, summarize(file, Number(process.argv[3] ?? 25)))) process.stdout.write(`${l.split("; ").join("\n  ")}\n`);
}
