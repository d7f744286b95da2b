/**
 * `tether node run` as a real process: SIGTERM drains (the daemon is told, a job dispatched
 * meanwhile is not started by it and waits in the queue, the running job finishes and its
 * result is recorded, exit 0), a second SIGTERM stops at once (the running job is killed and
 * not reported, so it is queued again), and `--on-renew` runs after a rotation with the new
 * files in place (docs/fleet.md §7, docs/clients.md).
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@tether/node";
import type { Job, NodeInfo } from "@tether/wire";
import { rpc } from "../packages/cli/src/cli.ts";
import { admin, pairDevice, spawnCli, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

type Proc = ReturnType<typeof spawnCli>;
const N = suite("node run: drain on SIGTERM, renewal hook");
const ctx = {} as { d: TestDaemon; tmp: ReturnType<typeof tempDir>; dir: string; node: string; marks: string; procs: Proc[] };

N.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon();
  ctx.dir = join(ctx.tmp.path, "node");
  ctx.marks = join(ctx.tmp.path, "marks");
  mkdirSync(ctx.marks);
  ctx.node = await pairDevice(ctx.d, ctx.dir, { name: "drainer" });
  ctx.procs = [];
});
N.after(async () => {
  for (const p of ctx.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  await Promise.all(ctx.procs.map((p) => p.exited));
  await ctx.d.stop();
  ctx.tmp.remove();
});

const local = () => ({ kind: "socket" as const, dataDir: ctx.d.dataDir });
/** A job of capability "work": marks that it started, sleeps as many seconds as its input, answers "done". */
const dispatch = async (seconds: number) =>
  (await rpc<Job>("Orchestrator", local(), "Dispatch", { deviceId: ctx.node, capability: "work", input: Buffer.from(String(seconds)), timeoutMs: 60_000, idempotencyKey: "" })).id;
const job = (id: string) => rpc<Job>("Orchestrator", local(), "GetJob", { id });
const started = (id: string) => existsSync(join(ctx.marks, id));
const me = async () => (await rpc<{ nodes: NodeInfo[] }>("Orchestrator", local(), "ListNodes", { capability: "", online: "" })).nodes.find((n) => n.deviceId === ctx.node);
const events = (p: Proc) =>
  p
    .err()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { event?: string; msg?: string } & Record<string, unknown>);
/** The first log line named `name` (`event` in this branch's --json-logs, `msg` in the daemon's log schema). */
const event = (p: Proc, name: string) => events(p).find((e) => (e.event ?? e.msg) === name);

function startNode(): Proc {
  const p = spawnCli([
    "node",
    "run",
    "--state-dir",
    ctx.dir,
    "--daemon",
    ctx.d.listen,
    "--json-logs",
    "--capability",
    `work=touch "${ctx.marks}/$TETHER_JOB_ID"; sleep "$(cat)"; echo '"done"'`,
    "--on-renew",
    `cp "$TETHER_TLS_BUNDLE" "${ctx.marks}/bundle-at-hook.pem"; env | grep '^TETHER_' | sort > "${ctx.marks}/hook.env"`,
  ]);
  ctx.procs.push(p);
  return p;
}

async function registeredNode(): Promise<Proc> {
  const p = startNode();
  await waitFor(() => event(p, "registered") ?? (p.child.exitCode !== null ? "exited" : undefined), "node run to register", 30_000).then((e) =>
    assert.ok(e !== "exited", `node run exited: ${p.err()}`),
  );
  return p;
}

N("a rotation runs the --on-renew hook once the new files are in place", async () => {
  const p = await registeredNode();
  const r = await admin<{ sentNow: boolean }>(ctx.d, "RotateDevice", { id: ctx.node });
  assert.ok(r.sentNow);
  await waitFor(() => event(p, "renew hook ran") ?? event(p, "renew hook failed"), "the renew hook", 20_000);
  assert.ok(event(p, "renew hook ran"), p.err());
  const env = Object.fromEntries(
    readFileSync(join(ctx.marks, "hook.env"), "utf8")
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  ) as Record<string, string>;
  const current = (await admin<{ certificateFingerprint: string }>(ctx.d, "GetDevice", { id: ctx.node })).certificateFingerprint;
  assert.is(env.TETHER_DEVICE_ID, ctx.node);
  assert.is(env.TETHER_STATE_DIR, ctx.dir);
  assert.is(env.TETHER_TLS_BUNDLE, join(ctx.dir, "tls-bundle.pem"));
  assert.is(env.TETHER_TLS_CERT, join(ctx.dir, "cert.pem"));
  assert.is(env.TETHER_TLS_KEY, join(ctx.dir, "tls.key"));
  assert.is(env.TETHER_TLS_CA, join(ctx.dir, "ca.pem"));
  assert.is(env.TETHER_CERT_FINGERPRINT, current, "the renewed certificate");
  assert.is(new Date(env.TETHER_CERT_NOT_AFTER as string).getTime(), Number(env.TETHER_CERT_NOT_AFTER_MS));
  // what the hook found: the new certificate with its own key, in one file
  const bundle = readFileSync(join(ctx.marks, "bundle-at-hook.pem"), "utf8");
  const [cert, , key] = bundle.match(/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----\n/g) ?? [];
  const x = new X509Certificate(cert as string);
  assert.is(x.fingerprint256.replace(/:/g, "").toLowerCase(), current);
  assert.ok(x.checkPrivateKey(createPrivateKey(key as string)), "the key in the bundle is the certificate's");
  assert.equal(readFileSync(join(ctx.dir, "cert.pem"), "utf8"), cert, "cert.pem was in place too");
});

N("SIGTERM drains: the running job finishes and is recorded, a job dispatched meanwhile waits, exit 0", async () => {
  const p = ctx.procs[0] as Proc;
  const running = await dispatch(3);
  await waitFor(() => started(running), "the first job to start", 20_000);
  p.child.kill("SIGTERM");
  await waitFor(() => event(p, "draining"), "the drain to begin");
  await waitFor(async () => (await me())?.draining, "the daemon to know the node is draining");
  const later = await dispatch(0);
  const code = await p.exited;
  assert.is(code, 0, p.err());
  const done = await job(running);
  assert.is(done.state, "succeeded", `the running job's result is recorded (${done.state}: ${done.error})`);
  assert.is(Buffer.from(done.output).toString(), '"done"');
  assert.ok(event(p, "drained"), p.err());
  assert.is(event(p, "drained")?.finished, 1);
  const waiting = await job(later);
  assert.is(waiting.state, "queued", "the job dispatched during the drain waits in the queue");
  assert.not.ok(started(later), "and was not started by this node");
  // it runs when the device comes back
  const back = connect(ctx.dir, { daemon: ctx.d.listen });
  back.handle("work", () => "after");
  await back.start();
  try {
    await waitFor(async () => (await job(later)).state === "succeeded", "the queued job on the node's return", 20_000);
  } finally {
    await back.close();
  }
});

N("a second SIGTERM stops at once: the running job is killed, not reported, and queued again", async () => {
  const p = await registeredNode();
  const long = await dispatch(30);
  await waitFor(() => started(long), "the long job to start", 20_000);
  p.child.kill("SIGTERM");
  await waitFor(() => event(p, "draining"), "the drain to begin");
  const t0 = Date.now();
  p.child.kill("SIGTERM");
  const code = await p.exited;
  const took = Date.now() - t0;
  assert.is(code, 0, p.err());
  assert.ok(took < 5000, `stopped ${took} ms after the second SIGTERM`);
  assert.ok(event(p, "stopping now"), p.err());
  assert.not.ok(event(p, "drained"));
  await waitFor(async () => (await job(long)).state === "queued", "the job to be queued again", 20_000);
  const j = await job(long);
  assert.is(j.attempts, 1, "it was not reported; it will be delivered again");
  console.log(`    second SIGTERM to exit: ${took} ms`);
});

N.run();
