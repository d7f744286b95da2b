/**
 * The whole journey with real processes over real mutual TLS: a daemon, a node and an
 * orchestrator paired through the CLI, `tether node run` taking work, `tether dispatch`
 * as the orchestrator, the daemon killed with SIGKILL mid-job, the node killed mid-job, and a
 * revocation that ends the node's stream and refuses its reconnects.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { cli, cliPair, spawnCli, startDaemonProcess, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { Ready } from "./helpers.ts";

type Proc = ReturnType<typeof spawnCli>;
const ctx = {} as { tmp: ReturnType<typeof tempDir>; data: string; daemon: Proc; ready: Ready; node: string; orch: string; runner?: Proc };
const J = suite("fleet e2e: processes");
const dd = () => ["--data-dir", ctx.data];
const nodeDir = () => join(ctx.tmp.path, "node");
const orchDir = () => join(ctx.tmp.path, "orch");

// The "once" capability, on its first delivery, marks that it has started and then holds
// until the test releases it (or 20 s pass), so that it is mid-job when something dies,
// however slow the machine; later deliveries answer at once.
const marks = () => join(ctx.tmp.path, "marks");
const caps = () => [
  "--capability",
  "echo=cat",
  "--capability",
  `once=[ "$TETHER_JOB_ATTEMPT" -ge 2 ] || { touch "${marks()}/$TETHER_JOB_ID.started"; i=0; while [ ! -e "${marks()}/release" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; }; echo "{\\"attempt\\":$TETHER_JOB_ATTEMPT}"`,
  "--capability",
  "hang=sleep 60",
];

/** Wait until job `id` runs its first attempt (it holds until release()). */
const started = (id: string) => waitFor(() => existsSync(join(marks(), `${id}.started`)), `job ${id} running`, 30_000);
const release = () => writeFileSync(join(marks(), "release"), "");
const hold = () => rmSync(join(marks(), "release"), { force: true });

function startRunner(): Proc {
  const r = spawnCli(["node", "run", "--state-dir", nodeDir(), "--max-concurrency", "4", "--json-logs", ...caps()]);
  ctx.runner = r;
  return r;
}

async function registered(r: Proc, n = 1) {
  await waitFor(
    () =>
      r
        .err()
        .split("\n")
        .filter((l) => l.includes('"msg":"registered"')).length >= n,
    `node registration (${r.err()})`,
    30_000,
  );
}

async function jobState(id: string) {
  const r = await cli(["jobs", "show", id, "--json", ...dd()]);
  return JSON.parse(r.stdout) as { state: string; attempts: number; output: unknown; error?: string };
}

J.before(async () => {
  ctx.tmp = tempDir();
  ctx.data = join(ctx.tmp.path, "data");
  mkdirSync(marks());
  ({ d: ctx.daemon, ready: ctx.ready } = await startDaemonProcess(ctx.data));
  ctx.node = (await cliPair(ctx.data, ["--daemon", ctx.ready.listen, "--pin", await pin(), "--name", "worker"], nodeDir())).result.deviceId;
  ctx.orch = (await cliPair(ctx.data, ["--daemon", ctx.ready.listen, "--pin", await pin(), "--name", "boss", "--role", "orchestrator"], orchDir())).result.deviceId;
});

J.after(async () => {
  if (ctx.runner) await stopDaemonProcess(ctx.runner, "SIGKILL");
  await stopDaemonProcess(ctx.daemon, "SIGKILL");
  ctx.tmp.remove();
});

async function pin(): Promise<string> {
  const r = await cli(["pair", "code", "--method", "pin", "--json", ...dd()]);
  return (JSON.parse(r.stdout) as { code: string }).code;
}

J("node run takes work; the orchestrator dispatches over mutual TLS and gets the result", async () => {
  const r = startRunner();
  await registered(r);
  const list = JSON.parse((await cli(["devices", "list", "--json", ...dd()])).stdout) as { id: string; online: boolean; capabilities: string[] }[];
  const me = list.find((d) => d.id === ctx.node);
  assert.ok(me?.online);
  assert.equal(me.capabilities.sort(), ["echo", "hang", "once"]);
  const t0 = Date.now();
  const res = await cli(["dispatch", ctx.node, "echo", "--input", '{"x":[1,2]}', "--state-dir", orchDir(), "--json"]);
  assert.is(res.code, 0, res.stderr);
  const job = JSON.parse(res.stdout) as { state: string; output: unknown; dispatchedBy: string };
  assert.is(job.state, "succeeded");
  assert.equal(job.output, { x: [1, 2] });
  assert.is(job.dispatchedBy, ctx.orch);
  console.log(`    one dispatch through the CLI, round trip incl. process start: ${Date.now() - t0} ms`);
  const bad = await cli(["dispatch", ctx.node, "nope", "--state-dir", orchDir()]);
  assert.is(bad.code, 5);
  assert.match(bad.stderr, /has not announced capability "nope"/);
  const asNode = await cli(["dispatch", ctx.node, "echo", "--state-dir", nodeDir()]);
  assert.is(asNode.code, 8);
  assert.match(asNode.stderr, /role "node"/);
  const timeout = await cli(["dispatch", ctx.node, "hang", "--timeout", "1", ...dd()]);
  assert.is(timeout.code, 11, timeout.stderr);
});

J("the daemon killed with SIGKILL mid-job: after a restart the job completes with the same id", async () => {
  hold();
  const q = await cli(["dispatch", ctx.node, "once", "--no-wait", "--timeout", "60", "--json", ...dd()]);
  const id = (JSON.parse(q.stdout) as { id: string }).id;
  await started(id);
  await stopDaemonProcess(ctx.daemon, "SIGKILL");
  release(); // the first attempt ends while the daemon is down; its result goes nowhere
  ({ d: ctx.daemon, ready: ctx.ready } = await startDaemonProcess(ctx.data, [], ctx.ready.listen));
  await registered(ctx.runner as Proc, 2); // the node came back by itself
  await waitFor(async () => (await jobState(id)).state === "succeeded", "job succeeded after the restart", 30_000);
  const j = await jobState(id);
  assert.ok(j.attempts >= 2, `delivered again (attempts ${j.attempts})`);
});

J("the node killed mid-job: the job goes back to the queue and completes when a node comes back", async () => {
  hold();
  const q = await cli(["dispatch", ctx.node, "once", "--no-wait", "--timeout", "60", "--json", ...dd()]);
  const id = (JSON.parse(q.stdout) as { id: string }).id;
  await started(id);
  await stopDaemonProcess(ctx.runner as Proc, "SIGKILL");
  release(); // the killed node's command ends on its own
  await waitFor(async () => (await jobState(id)).state === "queued", "job requeued once the stream died", 40_000);
  const r = startRunner();
  await registered(r);
  await waitFor(async () => (await jobState(id)).state === "succeeded", "job succeeded on the returning node", 20_000);
  assert.equal((await jobState(id)).output, { attempt: 2 });
});

J("revoking the node ends its stream at once and its reconnects are refused", async () => {
  const r = ctx.runner as Proc;
  const t0 = Date.now();
  const rev = await cli(["devices", "revoke", ctx.node, "--reason", "decommissioned", "--json", ...dd()]);
  assert.is(rev.code, 0, rev.stderr);
  const answered = Date.now();
  const code = await r.exited;
  const ended = Date.now();
  assert.is(code, 8, r.err());
  assert.match(r.err(), /PERMISSION_DENIED.*revoked/);
  console.log(`    revoke CLI answered after ${answered - t0} ms; node process exited ${ended - answered} ms later`);
  const again = spawnCli(["node", "run", "--state-dir", nodeDir(), "--capability", "echo=cat"]);
  assert.is(await again.exited, 8, "a reconnect with the revoked certificate is refused");
  assert.match(again.err(), /UNAUTHENTICATED/);
  const shown = JSON.parse((await cli(["devices", "show", ctx.node, "--json", ...dd()])).stdout) as { revokedAt: number; online: boolean };
  assert.ok(shown.revokedAt > 0);
  assert.not.ok(shown.online);
});

J("tether node renew: not before it is due, at once with --force, and the new certificate is good", async () => {
  const early = await cli(["node", "renew", "--state-dir", orchDir(), "--json"]);
  assert.is(early.code, 0, early.stderr);
  assert.equal(JSON.parse(early.stdout), { renewed: false });
  const before = await cli(["devices", "show", ctx.orch, "--json", ...dd()]);
  const forced = await cli(["node", "renew", "--force", "--state-dir", orchDir(), "--json"]);
  assert.is(forced.code, 0, forced.stderr);
  const r = JSON.parse(forced.stdout) as { renewed: boolean; fingerprint: string };
  assert.ok(r.renewed);
  const after = JSON.parse((await cli(["devices", "show", ctx.orch, "--json", ...dd()])).stdout) as { certificateFingerprint: string };
  assert.is(after.certificateFingerprint, r.fingerprint, "the daemon's record names the new certificate");
  assert.is.not((JSON.parse(before.stdout) as { certificateFingerprint: string }).certificateFingerprint, r.fingerprint);
  // the orchestrator works with its new certificate (over mutual TLS)
  const j = await cli(["jobs", "list", "--json", "--state-dir", orchDir()]);
  assert.is(j.code, 0, j.stderr);
  const bad = await cli(["node", "renew", "--state-dir", join(ctx.tmp.path, "nowhere")]);
  assert.is(bad.code, 2, "no paired identity there: usage error");
  assert.match(bad.stderr, /no paired identity/);
});

J.run();
