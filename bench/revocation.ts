/**
 * npm run bench -- --only revocation: the time from `RevokeDevice` answering to the device's
 * stream closing, with 1,000 connected nodes, revoking 100 of them one after another; and
 * whether a revoked device's new connection is refused on its first call, every time.
 *
 * The nodes are raw Node.Connect streams in client processes; each stream's end is stamped
 * there on CLOCK_MONOTONIC, which this process shares, so no IPC delay is counted. Baseline, in
 * the same run: the bare grpc-js server holding the same 1,000 streams, asked over a Unix
 * socket (as tether's Admin service is) to end one stream with PERMISSION_DENIED; the same
 * times are taken.
 */
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Bench, BenchContext, BenchResult } from "./harness.ts";
import { monoMs, pct, repsOf, row, sleep, startDaemonProcess } from "./harness.ts";
import { adminClient, relaySocketClient } from "./clients.ts";
import { startBaselineServer, startFleet } from "./fleet.ts";
import type { Fleet } from "./fleet.ts";
import { credsOf, devicePool, prepareDataDir, seedDevices } from "./seed.ts";

const NODES = Number(process.env.BENCH_REVOKE_NODES ?? 1000);
const REVOKE = Number(process.env.BENCH_REVOKE ?? 100);
/**
 * Jobs per second dispatched to the other nodes while they are revoked, in the loaded
 * configuration (BENCH_REVOKE_LOAD_RATE; 0: skip it). Unset: half the daemon's capacity,
 * measured on the same daemon just before (Orchestrator.Run at 64 in flight for CALIBRATE_MS),
 * so that the load is the same share of the machine however fast it is that day.
 */
const LOAD_RATE_SET = process.env.BENCH_REVOKE_LOAD_RATE !== undefined ? Number(process.env.BENCH_REVOKE_LOAD_RATE) : undefined;
const CALIBRATE_MS = 3000;
const CLIENTS = 2;

export type Figures = {
  fromAnswerP50: number;
  fromAnswerP99: number;
  fromCallP50: number;
  fromCallP99: number;
  answerP50: number;
  refused: number;
  probed: number;
  endedBeforeAnswer: number;
  missing: number;
};

export const bench: Bench = {
  name: "revocation",
  summary: "revoke 100 of 1,000 connected nodes one after another: revoke answered -> stream closed; new connections refused",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const reps = repsOf(ctx, 3);
    const pool = await devicePool(NODES, ctx.log);
    const creds = credsOf(pool.devices.slice(0, NODES));
    const template = join(ctx.tmp("tether-bench-revocation-"), "data");
    prepareDataDir(pool, template);
    await seedDevices(pool, template, 0, NODES);
    const work = ctx.tmp("tether-bench-revocation-run-");
    // every tenth device, spread over the client processes
    const victims = creds
      .filter((_, i) => i % Math.floor(NODES / REVOKE) === 0)
      .slice(0, REVOKE)
      .map((c) => c.id);
    const fleet = await startFleet(CLIENTS, ctx.tmp("tether-bench-fleet-"));
    const ends = new Map<string, { code: number; details: string; at: number }>();
    fleet.onEnded((m) => ends.set(m.id, m));
    const t: Figures[] = [];
    const tl: (Figures & { jobsPerS: number })[] = [];
    /** The daemon's measured capacity (jobs/s, Run at 64 in flight) and the load rate used, per loaded repetition. */
    const capacity: number[] = [];
    const rates: number[] = [];
    const loadText = () => (LOAD_RATE_SET !== undefined ? `${LOAD_RATE_SET} jobs/s` : `half its capacity, ${rates.map((r) => r.toFixed(0)).join("/")} jobs/s`);
    const b: Figures[] = [];
    const codes = new Set<string>();
    try {
      await fleet.prepare(pool.caPem, creds);
      for (let rep = 0; rep < reps; rep++) {
        const dataDir = join(work, `r${rep}`);
        cpSync(template, dataDir, { recursive: true });
        const d = await startDaemonProcess(dataDir);
        const admin = adminClient(d.adminSocket);
        try {
          const c = await fleet.connect({ mode: "tether", address: d.listen, concurrency: 16, reportEnds: true });
          if (c.failed) throw new Error(`${c.failed} nodes failed to connect: ${c.errors.join("; ")}`);
          await admin.call("Status", {}); // the admin channel is open before the clock starts
          await sleep(500);
          ends.clear();
          const f = await revokeAll(victims, ends, fleet, (id) => admin.call("RevokeDevice", { id, reason: "bench" }), codes);
          t.push(f);
          ctx.log(`rep ${rep + 1}/${reps} tether: ${fmt(f)}`);
        } finally {
          admin.close();
          await d.kill();
          await fleet.reset();
          rmSync(dataDir, { recursive: true, force: true });
        }
        if (LOAD_RATE_SET !== 0) tl.push(await loadedRep(rep));
        const sock = join(work, `baseline-${rep}.sock`);
        const srv = await startBaselineServer(template, { socket: sock });
        const kick = relaySocketClient(sock);
        try {
          const c = await fleet.connect({ mode: "baseline", address: srv.address, concurrency: 16, reportEnds: true });
          if (c.failed) throw new Error(`${c.failed} nodes failed to connect to the baseline: ${c.errors.join("; ")}`);
          await kick.call("Kick", { to: "nobody" }).catch(() => undefined);
          await sleep(500);
          ends.clear();
          const f = await revokeAll(victims, ends, fleet, (id) => kick.call("Kick", { to: id }), undefined);
          b.push(f);
          ctx.log(`rep ${rep + 1}/${reps} baseline: ${fmt(f)}`);
        } finally {
          kick.close();
          await srv.stop();
          await fleet.reset();
        }
      }
    } finally {
      await fleet.stop();
    }
    /** The same revocations on a fresh daemon while jobs flow to the other nodes at the load rate (nodes answer each). */
    async function loadedRep(rep: number) {
      const dataDir = join(work, `l${rep}`);
      cpSync(template, dataDir, { recursive: true });
      const d = await startDaemonProcess(dataDir);
      const admin = adminClient(d.adminSocket);
      const orch = adminClient(d.adminSocket, "Orchestrator");
      let stop = false;
      let sent = 0;
      let done = 0;
      try {
        const c = await fleet.connect({ mode: "tether", address: d.listen, concurrency: 16, reportEnds: true, echo: true });
        if (c.failed) throw new Error(`${c.failed} nodes failed to connect: ${c.errors.join("; ")}`);
        await admin.call("Status", {});
        const targets = creds.map((x) => x.id).filter((id) => !victims.includes(id));
        const input = Buffer.from('{"load":true}');
        let rate = LOAD_RATE_SET ?? 0;
        if (LOAD_RATE_SET === undefined) {
          // Capacity: jobs dispatched and answered per second, 64 in flight, round robin.
          let n = 0;
          const until = monoMs() + CALIBRATE_MS;
          await Promise.all(
            Array.from({ length: 64 }, async () => {
              while (monoMs() < until) {
                const id = targets[n++ % targets.length] as string;
                await orch.call("Run", { deviceId: id, capability: "echo", input, timeoutMs: 60_000, idempotencyKey: "" });
              }
            }),
          );
          capacity.push((n * 1000) / CALIBRATE_MS);
          rate = Math.max(1, Math.round((n * 1000) / CALIBRATE_MS / 2));
        }
        rates.push(rate);
        // Open loop: a job every 1/rate s to the next node in turn; each awaited on its own.
        const started = monoMs();
        const pump = (async () => {
          while (!stop) {
            const due = started + (sent * 1000) / rate;
            const wait = due - monoMs();
            if (wait > 0) await sleep(wait);
            const id = targets[sent % targets.length] as string;
            sent++;
            void orch.call("Dispatch", { deviceId: id, capability: "echo", input, timeoutMs: 60_000, idempotencyKey: "" }).then(
              () => done++,
              () => undefined,
            );
          }
        })();
        await sleep(2000); // the load is steady before the clock starts
        ends.clear();
        const jobsAtStart = done;
        const t0 = monoMs();
        const f = await revokeAll(victims, ends, fleet, (id) => admin.call("RevokeDevice", { id, reason: "bench" }), codes);
        const jobsPerS = ((done - jobsAtStart) * 1000) / (monoMs() - t0);
        stop = true;
        await pump;
        ctx.log(`rep ${rep + 1}/${reps} tether under load (${jobsPerS.toFixed(0)} jobs/s dispatched): ${fmt(f)}`);
        return { ...f, jobsPerS };
      } finally {
        stop = true;
        admin.close();
        orch.close();
        await d.kill();
        await fleet.reset();
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
    const refused = t.reduce((s, f) => s + f.refused, 0);
    const probed = t.reduce((s, f) => s + f.probed, 0);
    const missing = t.reduce((s, f) => s + f.missing, 0);
    return {
      name: "revocation",
      params: { connectedNodes: NODES, revoked: REVOKE, reps, clientProcesses: CLIENTS },
      rows: [
        row(
          "revoke answered -> stream closed, p50",
          "ms",
          t.map((f) => f.fromAnswerP50),
          b.map((f) => f.fromAnswerP50),
        ),
        row(
          "revoke answered -> stream closed, p99",
          "ms",
          t.map((f) => f.fromAnswerP99),
          b.map((f) => f.fromAnswerP99),
          {
            text: "< 100 ms",
            met: (_r, s) => s.median < 100,
          },
        ),
        row(
          "revoke called -> stream closed, p50",
          "ms",
          t.map((f) => f.fromCallP50),
          b.map((f) => f.fromCallP50),
        ),
        row(
          "revoke called -> stream closed, p99, idle",
          "ms",
          t.map((f) => f.fromCallP99),
          b.map((f) => f.fromCallP99),
          { text: "< 50 ms", met: (_r, s) => s.median < 50 },
        ),
        ...(tl.length
          ? [
              row(
                `revoke called -> stream closed, p99, under load (${loadText()} to the other nodes)`,
                "ms",
                tl.map((f) => f.fromCallP99),
                b.map((f) => f.fromCallP99),
                { text: "< 100 ms", met: (_r, s) => s.median < 100 },
              ),
              row(
                "revoke called -> stream closed, p50, under load",
                "ms",
                tl.map((f) => f.fromCallP50),
                b.map((f) => f.fromCallP50),
              ),
              row(
                "jobs dispatched and answered per second during the revocations",
                "jobs/s",
                tl.map((f) => f.jobsPerS),
                capacity.length ? capacity : undefined,
              ),
            ]
          : []),
        row(
          "revoke call -> answer, p50",
          "ms",
          t.map((f) => f.answerP50),
          b.map((f) => f.answerP50),
        ),
        row(
          "new connection refused on its first call",
          "%",
          t.map((f) => (100 * f.refused) / f.probed),
          undefined,
          {
            text: "100 %",
            met: (_r, s) => s.min === 100,
          },
        ),
      ],
      notes: [
        `one after another, ${REVOKE} of the ${NODES} connected devices (every ${Math.floor(NODES / REVOKE)}th) are revoked with Admin.RevokeDevice on the admin socket (one long-lived channel); each time is taken from the call and from its answer to the moment the device's client process saw its stream end (CLOCK_MONOTONIC, stamped in the client). 'answered -> closed' is 0 when the stream had already closed before the answer arrived (${t.reduce((s, f) => s + f.endedBeforeAnswer, 0)} of ${REVOKE * t.length} for tether)`,
        `after each revocation, a new TCP + TLS connection with the revoked certificate opens Node.Connect and sends register: ${refused} of ${probed} refused on that first call (status ${[...codes].join(", ") || "-"})${missing ? `; ${missing} stream ends NOT seen within 10 s` : ""}`,
        `under load: a fresh daemon, the nodes answering every job, and the admin socket's Orchestrator dispatching ${loadText()} (open loop, one node after another, none to the victims) while the same revocations run; the baseline column is the bare server's idle figure (it has no jobs to carry)`,
        ...(capacity.length
          ? [
              `the load rate is half the daemon's capacity, measured on the same daemon just before: Orchestrator.Run at 64 in flight for ${CALIBRATE_MS / 1000} s (${capacity.map((c) => c.toFixed(0)).join(", ")} jobs/s; the baseline column of the jobs/s row); BENCH_REVOKE_LOAD_RATE sets a fixed rate`,
            ]
          : []),
        "baseline: the bare grpc-js server with the same 1,000 streams ends one named stream with PERMISSION_DENIED when asked over its Unix socket (Kick), then answers: the transport's floor for the same measurement (bare grpc-js has no revocation, so it has no refusal figure)",
        `each repetition: a fresh daemon on a fresh copy of the seeded store (${NODES} devices), all nodes connected from ${CLIENTS} client processes before the clock starts; after the measurement the daemon is killed (the copy is discarded)`,
        pool.describe(),
      ],
    };
  },
};

export function fmt(f: Figures): string {
  return `answered->closed p50 ${f.fromAnswerP50.toFixed(2)} p99 ${f.fromAnswerP99.toFixed(2)} ms; called->closed p50 ${f.fromCallP50.toFixed(2)} p99 ${f.fromCallP99.toFixed(2)} ms; refused ${f.refused}/${f.probed}; ended before answer ${f.endedBeforeAnswer}`;
}

export async function revokeAll(
  victims: string[],
  ends: Map<string, { code: number; details: string; at: number }>,
  fleet: Fleet,
  revoke: (id: string) => Promise<unknown>,
  codes: Set<string> | undefined,
): Promise<Figures> {
  const fromAnswer: number[] = [];
  const fromCall: number[] = [];
  const answer: number[] = [];
  let refused = 0;
  let probed = 0;
  let before = 0;
  let missing = 0;
  for (const id of victims) {
    const t0 = monoMs();
    await revoke(id);
    const t1 = monoMs();
    const until = Date.now() + 10_000;
    while (!ends.has(id) && Date.now() < until) await sleep(1);
    const e = ends.get(id);
    if (!e) {
      missing++;
      continue;
    }
    fromAnswer.push(Math.max(0, e.at - t1)); // closed before the answer: nothing left to wait for
    fromCall.push(e.at - t0);
    answer.push(t1 - t0);
    if (e.at <= t1) before++;
    if (codes) {
      const p = await fleet.probe(id);
      probed++;
      if (p.refused) {
        refused++;
        codes.add(String(p.code));
      }
    }
  }
  return {
    fromAnswerP50: pct(fromAnswer, 50),
    fromAnswerP99: pct(fromAnswer, 99),
    fromCallP50: pct(fromCall, 50),
    fromCallP99: pct(fromCall, 99),
    answerP50: pct(answer, 50),
    refused,
    probed: Math.max(probed, codes ? 1 : 0),
    endedBeforeAnswer: before,
    missing,
  };
}
