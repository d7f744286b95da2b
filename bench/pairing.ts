/**
 * npm run bench -- --only pairing: completed pairings per second, 1 and 32 at a time: the full
 * handshake (Start, Reveal, Finish, signed Await) by the node SDK's pair() in client
 * processes, approval through the admin API (ApproveRequest on the admin socket, as soon as the
 * handshake is done), and the certificate issued and stored. The daemon's CPU time per pairing
 * is read from /proc and compared with the "crypto floor", timed in the same run: the native
 * node:crypto operations the handshake needs (two X25519, one Ed25519 signature and one
 * verification, one ECDSA P-256 signature).
 */
import { diffieHellman, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { ed25519Sign, ed25519Verify, x25519Native } from "@tether/crypto";
import { join } from "node:path";
import { Metadata, credentials, loadPackageDefinition } from "@grpc/grpc-js";
import type { ChannelCredentials, Client } from "@grpc/grpc-js";
import { tetherPackageDefinition } from "@tether/wire";
import type { Bench, BenchContext, BenchResult } from "./harness.ts";
import { PROFILE, forkScript, monoMs, pct, processCpuTimes, repsOf, row, startDaemonProcess } from "./harness.ts";
import type { ScriptProcess } from "./harness.ts";
import { adminClient } from "./clients.ts";
import { newestProfile, profileLines, summarize } from "./profile.ts";
import { devicePool, prepareDataDir } from "./seed.ts";

const AT_ONCE = [1, 32] as const;
/** pairings per repetition, by concurrency */
const COUNT: Record<number, number> = { 1: Number(process.env.BENCH_PAIRINGS_1 ?? 16), 32: Number(process.env.BENCH_PAIRINGS_32 ?? 64) };
const WORKERS = 2;

/** ms per set of: 2 X25519, Ed25519 sign + verify, ECDSA P-256 sign (native) */
export function cryptoFloorMs(n = 1000): number {
  const x1 = generateKeyPairSync("x25519");
  const x2 = generateKeyPairSync("x25519");
  const ed = generateKeyPairSync("ed25519");
  const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const msg = Buffer.alloc(64, 1);
  const once = () => {
    diffieHellman({ privateKey: x1.privateKey, publicKey: x2.publicKey });
    diffieHellman({ privateKey: x2.privateKey, publicKey: x1.publicKey });
    const s = sign(null, msg, ed.privateKey);
    verify(null, msg, ed.publicKey, s);
    sign("sha256", msg, ec.privateKey);
  };
  for (let i = 0; i < 50; i++) once();
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) once();
  const u = process.cpuUsage(t);
  return (u.user + u.system) / 1000 / n;
}

/**
 * The primitives tether runs natively on the pairing and token paths, timed natively and with
 * noble's pure JS in the same run (the reason for using node:crypto there: README). Returns
 * microseconds per operation for each.
 */
export function primitiveTimesUs(n = 300): { name: string; nativeUs: number; nobleUs: number }[] {
  const time = (f: () => void) => {
    for (let i = 0; i < 20; i++) f();
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    return ((performance.now() - t) * 1000) / n;
  };
  const scalar = new Uint8Array(randomBytes(32));
  const u = x25519.getPublicKey(new Uint8Array(randomBytes(32)));
  const seed = new Uint8Array(randomBytes(32));
  const pub = ed25519.getPublicKey(seed);
  const msg = new Uint8Array(randomBytes(100));
  const sig = ed25519.sign(msg, seed);
  return [
    { name: "X25519 scalar multiplication (key import included)", nativeUs: time(() => x25519Native(scalar, u)), nobleUs: time(() => x25519.getSharedSecret(scalar, u)) },
    { name: "Ed25519 verification", nativeUs: time(() => ed25519Verify(pub, msg, sig)), nobleUs: time(() => ed25519.verify(sig, msg, pub, { zip215: false })) },
    { name: "Ed25519 signature", nativeUs: time(() => ed25519Sign(seed, msg)), nobleUs: time(() => ed25519.sign(msg, seed)) },
  ];
}

type Figures = { perSecond: number; cpuMs: number; systemMs: number; mintCpuMs: number; p50Ms: number; failed: number; transportMs: number };

const TRANSPORT_ROUNDS = Number(process.env.BENCH_TRANSPORT_ROUNDS ?? 100);

/**
 * The transport floor, against the same daemon process: what a pairing's connections and calls
 * cost when the daemon does nothing with them. Per round, as a pairing: one new TLS connection
 * (server-authenticated, no client certificate) carrying three calls, then a second new TLS
 * connection (verified against the CA) carrying one, each call answered at once (Node.GetJwks
 * without a client certificate: UNAUTHENTICATED), plus one call on the admin socket
 * (Admin.Status), for the approval. 16 rounds at a time. Returns daemon CPU ms per round.
 */
async function transportFloorMs(
  d: { listen: string; adminSocket: string; cpuMs(): number },
  caPem: string,
  admin: { call<T>(m: string, req: object): Promise<T> },
): Promise<number> {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as {
    tether: { v1: { Node: new (a: string, c: ChannelCredentials, o: object) => Client & { GetJwks(r: object, m: Metadata, o: object, cb: (e: unknown) => void): void } } };
  };
  const refused = (c: InstanceType<typeof pkg.tether.v1.Node>) => new Promise<void>((res) => c.GetJwks({}, new Metadata(), { deadline: Date.now() + 10_000 }, () => res()));
  const opts = { "grpc.ssl_target_name_override": "localhost", "grpc.use_local_subchannel_pool": 1 };
  const round = async () => {
    const first = new pkg.tether.v1.Node(d.listen, credentials.createSsl(null, null, null, { rejectUnauthorized: false }), opts);
    for (let i = 0; i < 3; i++) await refused(first);
    first.close();
    const second = new pkg.tether.v1.Node(d.listen, credentials.createSsl(Buffer.from(caPem), null, null, { checkServerIdentity: () => undefined }), opts);
    await refused(second);
    second.close();
    await admin.call("Status", {});
  };
  for (let i = 0; i < 10; i++) await round(); // warm up
  const c0 = d.cpuMs();
  let next = 0;
  // 16 at a time, as the pairings 32 at a time keep the daemon busy (not waking it per call)
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < TRANSPORT_ROUNDS) await round();
    }),
  );
  return (d.cpuMs() - c0) / TRANSPORT_ROUNDS;
}

export const bench: Bench = {
  name: "pairing",
  summary: "completed pairings per second, 1 and 32 at a time, daemon CPU per pairing against the native crypto floor",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const reps = repsOf(ctx, 3);
    const pool = await devicePool(0, ctx.log);
    const work = ctx.tmp("tether-bench-pairing-");
    const workers = Array.from({ length: WORKERS }, () => forkScript("pair-worker.ts"));
    const t: Record<number, Figures[]> = { 1: [], 32: [] };
    const floor: number[] = [];
    const prims: ReturnType<typeof primitiveTimesUs>[] = [];
    const notes: string[] = [];
    try {
      await Promise.all(workers.map((w) => w.next("ready", 60_000)));
      for (let rep = 0; rep < reps; rep++) {
        const r = await oneRep(ctx, join(work, `r${rep}`), pool, workers);
        for (const n of AT_ONCE) (t[n] as Figures[]).push(r[n] as Figures);
        floor.push(cryptoFloorMs());
        prims.push(primitiveTimesUs());
        ctx.log(
          `rep ${rep + 1}/${reps}: ${AT_ONCE.map((n) => `${n} at a time: ${(r[n] as Figures).perSecond.toFixed(1)}/s, daemon CPU ${(r[n] as Figures).cpuMs.toFixed(1)} ms + ${(r[n] as Figures).mintCpuMs.toFixed(1)} ms minting`).join("; ")}; floor ${(floor[rep] as number).toFixed(3)} ms`,
        );
      }
      if (PROFILE) {
        ctx.log("profile run (BENCH_PROFILE=1): daemon with --cpu-prof");
        const profDir = ctx.tmp("tether-bench-pairing-prof-");
        const window = { from: 0, to: 0 };
        await oneRep(ctx, join(work, "prof"), pool, workers, profDir, window);
        const f = newestProfile(profDir);
        if (f) {
          const lines = profileLines("daemon CPU profile (pairing: minting, 1 and 32 at a time, start-up excluded)", summarize(f, 15, window));
          for (const l of lines) ctx.log(l);
          notes.push(...lines);
        }
      }
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    const failed = AT_ONCE.reduce((s, n) => s + (t[n] as Figures[]).reduce((a, f) => a + f.failed, 0), 0);
    const f1 = t[1] as Figures[];
    const f32 = t[32] as Figures[];
    const le3 = { text: "<= 3x the crypto floor", met: (r: number) => r <= 3 };
    return {
      name: "pairing",
      params: { reps, pairings1: COUNT[1] as number, pairings32: COUNT[32] as number, clientProcesses: WORKERS },
      rows: [
        row(
          "pairings per second, 1 at a time",
          "pairings/s",
          f1.map((f) => f.perSecond),
        ),
        row(
          "pairings per second, 32 at a time",
          "pairings/s",
          f32.map((f) => f.perSecond),
        ),
        row(
          "time per pairing, 1 at a time (p50)",
          "ms",
          f1.map((f) => f.p50Ms),
        ),
        row(
          "daemon CPU per pairing, 1 at a time",
          "ms",
          f1.map((f) => f.cpuMs),
          floor,
          le3,
        ),
        row(
          "daemon CPU per pairing, 32 at a time",
          "ms",
          f32.map((f) => f.cpuMs),
          floor,
          le3,
        ),
        row(
          "  of which system (kernel: TLS sockets, fsync)",
          "ms",
          f32.map((f) => f.systemMs),
        ),
        row(
          "daemon CPU per pairing incl. minting its code (32 at a time)",
          "ms",
          f32.map((f) => f.cpuMs + f.mintCpuMs),
          floor,
          le3,
        ),
        row(
          "daemon CPU per code minted (CreateCode)",
          "ms",
          [...f1, ...f32].map((f) => f.mintCpuMs),
          floor,
        ),
        row(
          "daemon CPU per pairing (32 at a time) vs the transport floor",
          "ms",
          f32.map((f) => f.cpuMs),
          f32.map((f) => f.transportMs),
        ),
        ...prims[0]!.map((p, i) =>
          row(
            `${p.name}: node:crypto (as tether runs it) vs noble`,
            "us",
            prims.map((r) => (r[i] as typeof p).nativeUs),
            prims.map((r) => (r[i] as typeof p).nobleUs),
          ),
        ),
      ],
      notes: [
        "a pairing = the node SDK's pair() with a fresh PIN (Start, Reveal, Finish, signed Await) + ApproveRequest over the admin socket as soon as the node has its verification code + the certificate issued and stored; counted when pair() returns with the certificate",
        "daemon CPU = utime + stime of the daemon process (/proc) from the first Start to the last pairing's end, divided by the pairings; the PINs are minted before that window (their CPU is the 'per code minted' row)",
        "baseline (the crypto floor, timed in this process in the same run): 2 X25519, 1 Ed25519 sign + 1 verify, 1 ECDSA P-256 sign with node:crypto, per the issue; the daemon's side of a pairing actually needs 2 Ed25519 verifications (Finish, Await) and 2 ECDSA signatures (transcript, certificate)",
        `second baseline (the transport floor, the same daemon process after the pairings): per pairing, the connections and calls a pairing makes, answered at once: a new TLS connection with 3 calls, a second new TLS connection (CA-verified) with 1 call, and 1 admin-socket call; ${TRANSPORT_ROUNDS} rounds, 16 at a time`,
        `the node side runs in ${WORKERS} client processes (32 at a time = 16 in each); each client connection reaches the daemon through a forwarder in the client process with its own 127.0.x.y source address, because the daemon allows 30 Starts then 2 per second per source address (a real fleet pairs from many addresses); a fresh daemon (empty store, the run's CA) per repetition`,
        ...(failed ? [`${failed} pairings FAILED`] : []),
        ...notes,
      ],
    };
  },
};

async function oneRep(
  ctx: BenchContext,
  dataDir: string,
  pool: Awaited<ReturnType<typeof devicePool>>,
  workers: ScriptProcess[],
  profileDir?: string,
  window?: { from: number; to: number },
): Promise<Record<number, Figures>> {
  prepareDataDir(pool, dataDir);
  const d = await startDaemonProcess(dataDir, profileDir ? { nodeArgs: ["--cpu-prof", "--cpu-prof-dir", profileDir] } : {});
  const admin = adminClient(d.adminSocket);
  const out: Record<number, Figures> = {};
  if (window) window.from = monoMs();
  try {
    for (const n of AT_ONCE) {
      const count = COUNT[n] as number;
      const m0 = d.cpuMs();
      const pins: string[] = [];
      for (let i = 0; i < count; i++) pins.push((await admin.call<{ code: string }>("CreateCode", { method: "pin", ttlSeconds: 0 })).code);
      const c0 = d.cpuMs();
      const s0 = processCpuTimes(d.pid).systemMs;
      const t0 = monoMs();
      const used = n === 1 ? [workers[0] as ScriptProcess] : workers;
      const replies = used.map((w, i) => {
        const p = w.next("paired", 600_000);
        const share = pins.filter((_, j) => j % used.length === i);
        w.send({ type: "pair", daemon: d.listen, adminSocket: d.adminSocket, pins: share, concurrency: Math.max(1, n / used.length), stateRoot: `${dataDir}-nodes-${n}` });
        return p;
      });
      const rs = await Promise.all(replies);
      const secs = (monoMs() - t0) / 1000;
      const cpu = d.cpuMs() - c0;
      const sys = processCpuTimes(d.pid).systemMs - s0;
      const ok = rs.reduce((s, r) => s + (r.ok as number), 0);
      const failed = rs.reduce((s, r) => s + (r.failed as number), 0);
      if (failed)
        ctx.log(
          `  ${failed} pairings failed: ${rs
            .flatMap((r) => r.errors as string[])
            .slice(0, 3)
            .join("; ")}`,
        );
      out[n] = {
        perSecond: ok / secs,
        cpuMs: cpu / Math.max(1, ok),
        systemMs: sys / Math.max(1, ok),
        mintCpuMs: (c0 - m0) / count,
        p50Ms: pct(
          rs.flatMap((r) => r.ms as number[]),
          50,
        ),
        failed,
        transportMs: 0,
      };
    }
    if (window) window.to = monoMs();
    const transport = await transportFloorMs(d, pool.caPem, admin);
    for (const n of AT_ONCE) (out[n] as Figures).transportMs = transport;
    return out;
  } finally {
    admin.close();
    await d.stop(profileDir ? 60_000 : 10_000);
  }
}
