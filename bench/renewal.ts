/**
 * npm run bench -- --only renewal: certificates renewed per second, at 1 and at 32 in flight,
 * over each device's warm mutual-TLS channel with a new key each time (as the SDK renews), and
 * over a new connection each time (a TLS handshake per renewal, as a device back from an
 * outage); the daemon's CPU per certificate; then the warm cell again after 20,000 renewals
 * (no drift). 32 devices paired for real; the requests (keys, signatures, key proofs) are made
 * before the clock starts, so the figures are the daemon's. Baseline, in the same run: the
 * transport floor for the same calls, an authenticated unary call (Node.GetCrl, answered from
 * memory) over the same channels, or new connections, at the same concurrency.
 * BENCH_PROFILE=1 adds a run of the 32-in-flight warm cell under --cpu-prof, summarised.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import { join } from "node:path";
import { Metadata, credentials, loadPackageDefinition } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { KeyProofPurpose, identitySign, keyProofMessage, renewSignedMessage } from "@tether/crypto";
import { loadCredentials, loadOrCreateIdentity, pair } from "@tether/node";
import { tetherPackageDefinition } from "@tether/wire";
import type { Bench, BenchContext, BenchResult } from "./harness.ts";
import { monoMs, processCpuTimes, repsOf, row, startDaemonProcess } from "./harness.ts";
import { adminClient } from "./clients.ts";
import { newestProfile, profileLines, summarize } from "./profile.ts";

const DEVICES = 32;
const CELL = Number(process.env.BENCH_RENEWALS_PER_CELL ?? 1000);
const TOTAL = Number(process.env.BENCH_RENEWALS_TOTAL ?? 20_000);
const FRESH_CELL = Number(process.env.BENCH_RENEWALS_FRESH_PER_CELL ?? 300);
const PROFILE = process.env.BENCH_PROFILE === "1";

type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
type NodeClient = Client & { Renew: Unary; GetCrl: Unary };
type Device = { id: string; dir: string; client: NodeClient; connect(): NodeClient };

const call = (c: NodeClient, m: "Renew" | "GetCrl", req: object) =>
  new Promise<unknown>((resolve, reject) => (c[m] as Unary).call(c, req, new Metadata(), { deadline: Date.now() + 60_000 }, (e, r) => (e ? reject(e) : resolve(r))));

/** A signed Renew request for `d` on a fresh key, made now (fresh for 10 minutes). */
function request(d: Device, secretKey: Uint8Array) {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const key = createPrivateKey(privateKey.export({ type: "pkcs8", format: "pem" }) as string);
  const spki = new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
  const timestamp = Date.now();
  return {
    tlsPublicKey: spki,
    timestamp,
    signature: identitySign(secretKey, renewSignedMessage(d.id, spki, timestamp)),
    keyProof: new Uint8Array(sign("sha256", keyProofMessage(KeyProofPurpose.Renew, d.id, spki, timestamp), { key, dsaEncoding: "der" })),
  };
}

/** The daemon's CPU so far (ms): its main thread's user and system time, and the whole process's. */
function cpuSplit(pid: number) {
  const main = processCpuTimes(pid, pid);
  const all = processCpuTimes(pid);
  return { mainUser: main.userMs, mainSys: main.systemMs, all: all.userMs + all.systemMs };
}

/**
 * n calls, `inFlight` at a time, spread over the devices; returns calls/s and the daemon's CPU
 * ms per call (all threads, with the kernel's time), and how much of it was its main thread's.
 */
async function cell(devices: Device[], n: number, inFlight: number, one: (d: Device, i: number) => Promise<unknown>, pid: number) {
  let next = 0;
  const c0 = cpuSplit(pid);
  const t0 = monoMs();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) {
        const i = next++;
        await one(devices[i % devices.length] as Device, i);
      }
    }),
  );
  const ms = monoMs() - t0;
  const c1 = cpuSplit(pid);
  return { perS: (n * 1000) / ms, cpuPerCall: (c1.all - c0.all) / n, mainUser: (c1.mainUser - c0.mainUser) / n, mainSys: (c1.mainSys - c0.mainSys) / n };
}

/** One call over a channel of its own: connected, called, closed (a TLS handshake each). */
async function fresh(d: Device, m: "Renew" | "GetCrl", req: object) {
  const c = d.connect();
  try {
    return await call(c, m, req);
  } finally {
    c.close();
  }
}

const perS = (c: { perS: number }) => c.perS;
const cpu = (c: { cpuPerCall: number }) => c.cpuPerCall;
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;

export const bench: Bench = {
  name: "renewal",
  summary: "certificates renewed per second at 1 and 32 in flight, warm mTLS channels and a new connection each (new key each), CPU per certificate, and after 20,000 renewals",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const reps = repsOf(ctx, 1);
    const work = ctx.tmp("tether-bench-renewal-");
    const profDir = PROFILE ? ctx.tmp("tether-bench-renewal-prof-") : undefined;
    const d = await startDaemonProcess(join(work, "data"), {
      args: ["--pairing-burst", "10000", "--pairing-rate", "10000"],
      ...(profDir ? { nodeArgs: ["--cpu-prof", "--cpu-prof-dir", profDir] } : {}),
    });
    const admin = adminClient(d.adminSocket);
    const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as {
      tether: { v1: { Node: new (a: string, c: ReturnType<typeof credentials.createSsl>, o: object) => NodeClient } };
    };
    const devices: Device[] = [];
    const notes: string[] = [];
    try {
      ctx.log(`renewal: pairing ${DEVICES} devices`);
      for (let i = 0; i < DEVICES; i++) {
        const dir = join(work, `n${i}`);
        const code = await admin.call<{ code: string }>("CreateCode", { method: "pin", ttlSeconds: 300 });
        const r = await pair({
          daemon: d.listen,
          pin: code.code,
          name: `renewer-${i}`,
          stateDir: dir,
          onVerificationCode: (_c, info) => void admin.call("ApproveRequest", { id: info.requestId, role: "" }),
        });
        // The certificate paired with stays the channel's: a renewal answers a new one, which
        // the bench does not install (the old one stays valid for its lifetime).
        const c = loadCredentials(dir);
        const connect = () => {
          const creds = credentials.createSsl(Buffer.from(c.caPem), Buffer.from(c.keyPem.expose()), Buffer.from(c.certPem), { checkServerIdentity: () => undefined });
          // a channel of its own, not one of grpc-js's shared subchannels
          return new pkg.tether.v1.Node(d.listen, creds, { "grpc.ssl_target_name_override": "localhost", "grpc.use_local_subchannel_pool": 1 });
        };
        const client = connect();
        await call(client, "GetCrl", {}); // warm: the channel is connected before any clock
        devices.push({ id: r.deviceId, dir, client, connect });
      }
      const secrets = devices.map((x) => loadOrCreateIdentity(x.dir).secretKey.expose());
      /** `n` requests made ahead, in device order (request i is for device i % 32). */
      const requests = (n: number) => Array.from({ length: n }, (_, i) => request(devices[i % DEVICES] as Device, secrets[i % DEVICES] as Uint8Array));
      let done = 0;
      const renewCell = async (inFlight: number, n = CELL) => {
        const reqs = requests(n);
        done += n;
        return cell(devices, n, inFlight, (dev, i) => call(dev.client, "Renew", reqs[i] as object), d.pid);
      };
      const freshCell = async (inFlight: number) => {
        const reqs = requests(FRESH_CELL);
        done += FRESH_CELL;
        return cell(devices, FRESH_CELL, inFlight, (dev, i) => fresh(dev, "Renew", reqs[i] as object), d.pid);
      };
      const floorCell = (inFlight: number) => cell(devices, CELL, inFlight, (dev) => call(dev.client, "GetCrl", {}), d.pid);
      const freshFloorCell = (inFlight: number) => cell(devices, FRESH_CELL, inFlight, (dev) => fresh(dev, "GetCrl", {}), d.pid);
      // Warm-up, not measured: the daemon's code paths compiled, as on a daemon that has run.
      await renewCell(32, 200);
      await floorCell(32);
      type Cell = Awaited<ReturnType<typeof cell>>;
      /** Each repetition's eight cells: renewals and the floor, warm and over new connections, 1 and 32 in flight. */
      const runs: Record<"a" | "b" | "fa" | "fb" | "na" | "nb" | "nfa" | "nfb", Cell>[] = [];
      const of = (k: keyof (typeof runs)[number], f: (c: Cell) => number) => runs.map((r) => f(r[k]));
      for (let rep = 0; rep < reps; rep++) {
        const a = await renewCell(1);
        const b = await renewCell(32);
        const fa = await floorCell(1);
        const fb = await floorCell(32);
        const na = await freshCell(1);
        const nb = await freshCell(32);
        const nfa = await freshFloorCell(1);
        const nfb = await freshFloorCell(32);
        runs.push({ a, b, fa, fb, na, nb, nfa, nfb });
        ctx.log(
          `renewal rep ${rep + 1}: warm 1 in flight ${a.perS.toFixed(0)}/s (${a.cpuPerCall.toFixed(2)} ms CPU each), 32 in flight ${b.perS.toFixed(0)}/s (${b.cpuPerCall.toFixed(2)} ms, main thread ${b.mainUser.toFixed(2)} user + ${b.mainSys.toFixed(2)} system), floor ${fa.perS.toFixed(0)}/s, ${fb.perS.toFixed(0)}/s; ` +
            `new connection 1 in flight ${na.perS.toFixed(0)}/s, 32 in flight ${nb.perS.toFixed(0)}/s (${nb.cpuPerCall.toFixed(2)} ms), floor ${nfa.perS.toFixed(0)}/s, ${nfb.perS.toFixed(0)}/s`,
        );
      }
      // Drift: renew on at 32 in flight until TOTAL, then the same cell again.
      while (done < TOTAL - CELL) await renewCell(32);
      const late = await renewCell(32);
      ctx.log(
        `renewal: after ${done} renewals, 32 in flight ${late.perS.toFixed(0)}/s (${late.cpuPerCall.toFixed(2)} ms CPU each, main thread ${late.mainUser.toFixed(2)} user + ${late.mainSys.toFixed(2)} system)`,
      );
      if (profDir) {
        const window = { from: monoMs(), to: 0 };
        const p = await renewCell(32);
        window.to = monoMs();
        ctx.log(`renewal: profiled cell ${p.perS.toFixed(0)}/s (${p.cpuPerCall.toFixed(2)} ms CPU each, under --cpu-prof)`);
        await d.stop(60_000);
        const f = newestProfile(profDir);
        if (f) {
          const lines = profileLines("daemon CPU profile (renewals, 32 in flight, warm)", summarize(f, Number(process.env.BENCH_PROFILE_TOP ?? 15), window));
          for (const l of lines) ctx.log(l);
          notes.push(...lines);
        }
      }
      return {
        name: "renewal",
        params: { devices: DEVICES, renewalsPerCell: CELL, freshPerCell: FRESH_CELL, totalRenewals: done, reps },
        rows: [
          row("renewals per second, warm channel, 1 in flight", "/s", of("a", perS), of("fa", perS)),
          row("renewals per second, warm channel, 32 in flight", "/s", of("b", perS), of("fb", perS), {
            text: ">= 3x the 1-in-flight rate",
            met: () => median(of("b", perS)) >= 3 * median(of("a", perS)),
          }),
          row("daemon CPU per certificate, warm, 1 in flight", "ms", of("a", cpu), of("fa", cpu)),
          row("daemon CPU per certificate, warm, 32 in flight", "ms", of("b", cpu), of("fb", cpu), { text: "<= 1.2 ms", met: (_r, s) => s.median <= 1.2 }),
          row("renewals per second, new connection each, 1 in flight", "/s", of("na", perS), of("nfa", perS)),
          row("renewals per second, new connection each, 32 in flight", "/s", of("nb", perS), of("nfb", perS)),
          row("daemon CPU per renewal, new connection each, 32 in flight", "ms", of("nb", cpu)),
          row(`renewals per second, warm, 32 in flight, after ${done} renewals`, "/s", [late.perS], [median(of("b", perS))], {
            text: "within 10 % of the first cell's",
            met: (ratio) => ratio >= 0.9,
          }),
          row(`daemon CPU per certificate after ${done} renewals`, "ms", [late.cpuPerCall], [median(of("b", cpu))], { text: "within 10 %", met: (ratio) => ratio <= 1.1 }),
        ],
        notes: [
          `${DEVICES} devices paired for real; each renewal a Node.Renew for a new P-256 key, the request (key, identity signature, key proof) made before the clock starts; each certificate is written durably and audited before the answer; 200 renewals of warm-up first`,
          "baseline: Node.GetCrl (an authenticated unary call answered from memory) over the same channels (or new connections) at the same concurrency: the transport's floor for a call (its rate, and the daemon's CPU per call in the CPU rows); the drift rows compare with the first 32-in-flight warm cell instead",
          "the daemon's CPU is the process's (all threads, and the kernel's time for it: at 1 in flight every renewal pays an fsync of its own, which is most of the difference to 32 in flight)",
          ...notes,
        ],
      };
    } finally {
      for (const x of devices) x.client.close();
      admin.close();
      await d.kill();
    }
  },
};
