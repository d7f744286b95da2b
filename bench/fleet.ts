/**
 * The bench side of the fleet clients (bench/fleet-client.ts): start k client processes,
 * spread devices over them, connect them all, wait for pushes, probe revoked credentials.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Msg, ScriptProcess } from "./harness.ts";
import { forkScript, ranges } from "./harness.ts";
import type { DeviceCreds } from "./seed.ts";

export type Connected = { ok: number; failed: number; errors: string[]; firstAt: number; lastAt: number };

export type Fleet = {
  clients: ScriptProcess[];
  /** Give the clients their devices (spread evenly) and make their TLS contexts, before any clock starts. */
  prepare(caPem: string, devices: DeviceCreds[]): Promise<void>;
  /** Open one stream per device, `concurrency` handshakes at a time in each client, all clients at once (client i to `addresses[i % n]` when given, else to `address`). */
  connect(o: {
    mode: "tether" | "baseline";
    address: string;
    addresses?: string[];
    concurrency: number;
    echo?: boolean;
    reportEnds?: boolean;
    limitPerClient?: number;
  }): Promise<Connected>;
  /** Drop every connection (call after the server has stopped, so that it closed them first). */
  reset(): Promise<void>;
  /** Resolves with the (monotonic) time the last of `perClient[i]` pushes arrived at every client. */
  expectPushes(key: string, timeoutMs?: number): Promise<number>;
  probe(id: string): Promise<{ refused: boolean; code: number; details: string; ms: number }>;
  onEnded(fn: (m: { id: string; code: number; details: string; at: number }) => void): void;
  status(): Promise<{ open: number; ended: number; pushes: number }>;
  cpuMs(): number;
  stop(): Promise<void>;
};

/** k client processes (BENCH_CLIENT_PROF=DIR: each writes a CPU profile there, to see what the load generator costs). */
export async function startFleet(k: number, dir: string): Promise<Fleet> {
  const clients = Array.from({ length: k }, () =>
    forkScript("fleet-client.ts", [], process.env.BENCH_CLIENT_PROF ? { nodeArgs: ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CLIENT_PROF] } : {}),
  );
  await Promise.all(clients.map((c) => c.next("ready", 60_000)));
  const owner = new Map<string, ScriptProcess>();
  const perClient = new Map<ScriptProcess, number>();
  let seq = 0;
  return {
    clients,
    async prepare(caPem, devices) {
      const parts = ranges(devices.length, k);
      await Promise.all(
        clients.map((c, i) => {
          const [a, b] = parts[i] as [number, number];
          const slice = devices.slice(a, b);
          for (const d of slice) owner.set(d.id, c);
          perClient.set(c, slice.length);
          const file = join(dir, `fleet-${process.pid}-${seq++}-${i}.json`);
          writeFileSync(file, JSON.stringify(slice));
          const reply = c.next("prepared", 600_000);
          c.send({ type: "prepare", caPem, devicesFile: file });
          return reply;
        }),
      );
    },
    async connect(o) {
      const done = clients.map((c) => c.next("connected", 600_000));
      // Each client process from its own source address, as nodes on their own machines: the
      // daemon caps handshakes in progress per address (32), above one client's concurrency.
      for (const [i, c] of clients.entries())
        c.send({
          type: "connect",
          mode: o.mode,
          address: o.addresses?.length ? o.addresses[i % o.addresses.length] : o.address,
          localAddress: `127.0.1.${i + 1}`,
          concurrency: o.concurrency,
          echo: o.echo ?? false,
          reportEnds: o.reportEnds ?? false,
          ...(o.limitPerClient === undefined ? {} : { limit: o.limitPerClient }),
        });
      const rs = (await Promise.all(done)) as unknown as Connected[];
      return {
        ok: rs.reduce((s, r) => s + r.ok, 0),
        failed: rs.reduce((s, r) => s + r.failed, 0),
        errors: rs.flatMap((r) => r.errors),
        firstAt: Math.min(...rs.map((r) => r.firstAt)),
        lastAt: Math.max(...rs.map((r) => r.lastAt)),
      };
    },
    async reset() {
      await Promise.all(
        clients.map((c) => {
          const p = c.next("reset", 60_000);
          c.send({ type: "reset" });
          return p;
        }),
      );
    },
    async expectPushes(key, timeoutMs = 300_000) {
      const got = clients.map((c) => {
        const p = c.next("got", timeoutMs, (m) => m.key === key);
        c.send({ type: "expect", key, n: perClient.get(c) ?? 0 });
        return p;
      });
      const rs = await Promise.all(got);
      return Math.max(...rs.map((r) => r.at as number));
    },
    async probe(id) {
      const c = owner.get(id);
      if (!c) throw new Error(`no client holds ${id}`);
      const r = c.next("probe-result", 30_000, (m) => m.id === id);
      c.send({ type: "probe", id });
      return (await r) as unknown as { refused: boolean; code: number; details: string; ms: number };
    },
    onEnded(fn) {
      for (const c of clients) c.on("ended", (m: Msg) => fn(m as unknown as { id: string; code: number; details: string; at: number }));
    },
    async status() {
      const rs = await Promise.all(
        clients.map((c) => {
          const p = c.next("status", 30_000);
          c.send({ type: "status" });
          return p;
        }),
      );
      return {
        open: rs.reduce((s, r) => s + (r.open as number), 0),
        ended: rs.reduce((s, r) => s + (r.ended as number), 0),
        pushes: rs.reduce((s, r) => s + (r.pushes as number), 0),
      };
    },
    cpuMs: () => clients.reduce((s, c) => s + c.cpuMs(), 0),
    async stop() {
      await Promise.all(clients.map((c) => c.stop()));
    },
  };
}

export type BaselineServer = ScriptProcess & { port: number; address: string; push(): Promise<number>; count(): Promise<number> };

/**
 * The bare grpc-js server (bench/baseline-server.ts) in its own process, with the daemon's own
 * CA and server certificate from `dataDir`/ca.
 */
export async function startBaselineServer(
  dataDir: string,
  o: { nodeArgs?: string[]; port?: number; socket?: string } = {},
): Promise<BaselineServer & { spawnedAtMono: number; readyAtMono: number }> {
  const ca = join(dataDir, "ca");
  const spawnedAtMono = Number(process.hrtime.bigint()) / 1e6;
  const p = forkScript("baseline-server.ts", [join(ca, "ca.pem"), join(ca, "server.pem"), join(ca, "server.key"), String(o.port ?? 0), ...(o.socket ? [o.socket] : [])], {
    ...(o.nodeArgs ? { nodeArgs: o.nodeArgs } : {}),
  });
  const ready = await p.next("ready", 60_000);
  const readyAtMono = Number(process.hrtime.bigint()) / 1e6;
  const port = ready.port as number;
  return Object.assign(p, {
    port,
    address: `127.0.0.1:${port}`,
    spawnedAtMono,
    readyAtMono,
    async push() {
      const r = p.next("pushed", 60_000);
      p.send({ type: "push" });
      return (await r).n as number;
    },
    async count() {
      const r = p.next("count", 60_000);
      p.send({ type: "count" });
      return (await r).n as number;
    },
  });
}
