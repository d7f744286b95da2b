/**
 * `tether devices rotate` for devices that only make calls (docs/fleet.md §5A.4): the daemon
 * answers their calls with the `tether-renew-now` header until they renew; the SDK's
 * orchestrator client, `tether dispatch --state-dir` / `jobs --state-dir` and `tether node
 * renew` act on it; `devices show` and `devices list` show the rotation as pending. Also: a
 * renewal by another process is followed by a running SDK node and an SDK orchestrator, and
 * a failing `--exec` hook leaves the renewal in place.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Metadata } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect, orchestrator, renewIfDue } from "@tether/node";
import type { NodeConnection, OrchestratorClient } from "@tether/node";
import type { Device } from "@tether/wire";
import { admin, cliInProcess, pairDevice, rawNodeClient, startTestDaemon, tempDir } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const OVERLAP_MS = 1500;
const R = suite("rotation reaches call-only devices");
const ctx = {} as { d: TestDaemon; tmp: ReturnType<typeof tempDir>; orch: string; dir: string; clients: OrchestratorClient[]; conns: NodeConnection[] };

R.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ renewalOverlapMs: OVERLAP_MS });
  ctx.dir = join(ctx.tmp.path, "orch");
  ctx.orch = await pairDevice(ctx.d, ctx.dir, { role: "orchestrator", name: "caller" });
  ctx.clients = [];
  ctx.conns = [];
});
R.after(async () => {
  for (const c of ctx.clients) c.close();
  for (const c of ctx.conns) await c.close();
  await ctx.d.stop();
  ctx.tmp.remove();
});

const device = () => admin<Device>(ctx.d, "GetDevice", { id: ctx.orch });
const certInDir = (dir = ctx.dir) => new X509Certificate(readFileSync(join(dir, "cert.pem"))).fingerprint256.replace(/:/g, "").toLowerCase();
const rotate = () => admin<{ sentNow: boolean; requestedAt: number }>(ctx.d, "RotateDevice", { id: ctx.orch });

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await cliInProcess(args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

function listNodes(o: OrchestratorClient): Promise<{ nodes: { deviceId: string }[] }> {
  return new Promise((resolve, reject) =>
    o.ListNodes({ capability: "", online: "" }, new Metadata(), { deadline: Date.now() + 10_000 }, (e, r) => (e ? reject(e) : resolve(r as { nodes: { deviceId: string }[] }))),
  );
}

R("a pending rotation: shown by devices show and list, answered with tether-renew-now, carried out by the SDK orchestrator client", async () => {
  const o = orchestrator(ctx.dir, ctx.d.listen);
  ctx.clients.push(o);
  await listNodes(o);
  assert.is(await o.renewal(), undefined, "no renewal without a rotation");
  const before = (await device()).certificateFingerprint;

  const t0 = Date.now();
  const r = await rotate();
  assert.is(r.sentNow, false, "no stream to tell");
  assert.ok(r.requestedAt >= t0 - 1000 && r.requestedAt <= Date.now(), "when it was asked");
  const pending = await device();
  assert.ok(pending.rotationPending);
  assert.is(pending.rotationRequestedAt, r.requestedAt);
  // asking again keeps the first time
  assert.is((await rotate()).requestedAt, r.requestedAt);

  const since = new Date(r.requestedAt).toISOString();
  const show = await cli(["devices", "show", ctx.orch, "--data-dir", ctx.d.dataDir]);
  assert.is(show.code, 0, show.err);
  assert.ok(show.out.includes(`  rotation:            pending since ${since}\n`), show.out);
  const list = await cli(["devices", "list", "--data-dir", ctx.d.dataDir]);
  assert.ok(list.out.includes(`offline, rotation pending since ${since}`), list.out);
  const json = JSON.parse((await cli(["devices", "show", ctx.orch, "--data-dir", ctx.d.dataDir, "--json"])).out) as Device;
  assert.is(json.rotationPending, true);
  assert.is(json.rotationRequestedAt, r.requestedAt);

  // The next call carries the hint; the client renews in the background.
  await listNodes(o);
  const renewed = await o.renewal();
  assert.ok(renewed, "the client renewed");
  const after = await device();
  assert.is.not(after.certificateFingerprint, before);
  assert.is(after.certificateFingerprint, renewed.fingerprint);
  assert.is(certInDir(), renewed.fingerprint, "stored in the state directory");
  assert.not.ok(after.rotationPending, "the renewal clears the mark");
  assert.is(after.rotationRequestedAt, 0);
  assert.not.ok((await cli(["devices", "show", ctx.orch, "--data-dir", ctx.d.dataDir])).out.includes("rotation:"));
  // past the overlap the old certificate is refused: the client has moved to the new one
  await sleep(OVERLAP_MS + 300);
  await listNodes(o);
  await listNodes(o);
  assert.is(await o.renewal(), undefined, "no second renewal");
  assert.is((await device()).certificateFingerprint, renewed.fingerprint);
});

R("the hint on the wire: every authenticated call's response headers, not Renew's", async () => {
  await rotate();
  const raw = await rawNodeClient(ctx.d.listen, ctx.dir);
  try {
    const headers = (method: "GetJwks" | "GetCrl") =>
      new Promise<Metadata>((resolve, reject) => {
        const call = (
          raw as unknown as Record<string, (r: object, md: Metadata, o: object, cb: (e: ServiceError | null) => void) => { on(ev: string, f: (m: Metadata) => void): void }>
        )[method];
        const c = (call as NonNullable<typeof call>).call(raw, {}, new Metadata(), { deadline: Date.now() + 10_000 }, (e) => e && reject(e));
        c.on("metadata", resolve);
      });
    assert.equal((await headers("GetJwks")).get("tether-renew-now"), ["rotation requested by the admin"]);
    assert.equal((await headers("GetCrl")).get("tether-renew-now"), ["rotation requested by the admin"]);
  } finally {
    raw.close();
  }
  // carried out by `tether jobs list --state-dir` (as `dispatch --state-dir` would): the command's own call carries the hint
  const before = certInDir();
  const jobs = await cli(["jobs", "list", "--state-dir", ctx.dir, "--daemon", ctx.d.listen, "--json"]);
  assert.is(jobs.code, 0, jobs.err);
  const after = await device();
  assert.not.ok(after.rotationPending);
  assert.is.not(certInDir(), before);
  assert.is(after.certificateFingerprint, certInDir());
});

R("tether node renew carries out a pending rotation even when the certificate is not due", async () => {
  const idle = await cli(["node", "renew", "--state-dir", ctx.dir, "--daemon", ctx.d.listen, "--json"]);
  assert.is(idle.code, 0, idle.err);
  assert.equal(JSON.parse(idle.out), { renewed: false });
  await rotate();
  const r = await cli(["node", "renew", "--state-dir", ctx.dir, "--daemon", ctx.d.listen, "--json"]);
  assert.is(r.code, 0, r.err);
  const out = JSON.parse(r.out) as { renewed: boolean; reason: string; fingerprint: string };
  assert.ok(out.renewed);
  assert.is(out.reason, "rotation");
  assert.is(out.fingerprint, certInDir());
  assert.not.ok((await device()).rotationPending);
});

R("a failing --exec hook is reported (exit 1) and the renewal stands", async () => {
  const before = certInDir();
  const r = await cli(["node", "renew", "--force", "--state-dir", ctx.dir, "--daemon", ctx.d.listen, "--exec", "echo cannot reload >&2; exit 3", "--json"]);
  assert.is(r.code, 1);
  const out = JSON.parse(r.out) as { renewed: boolean; fingerprint: string; hook: { ok: boolean; error: string } };
  assert.ok(out.renewed);
  assert.equal(out.hook, { ok: false, error: "the hook exited with 3: cannot reload" });
  assert.match(r.err, /renewed and saved, but the --exec hook failed: the hook exited with 3: cannot reload/);
  assert.is.not(certInDir(), before);
  assert.is((await device()).certificateFingerprint, out.fingerprint, "the daemon and the state directory agree");
  const bad = await cli(["node", "renew", "--state-dir", ctx.dir, "--exec", " "]);
  assert.is(bad.code, 2);
});

R("a renewal by another process is followed by a running SDK node and an SDK orchestrator", async () => {
  const nodeDir = join(ctx.tmp.path, "node");
  await pairDevice(ctx.d, nodeDir, { name: "follower" });
  const conn = connect(nodeDir, { daemon: ctx.d.listen, autoRenew: false });
  conn.handle("x", () => 1);
  ctx.conns.push(conn);
  await conn.start();
  const o = orchestrator(ctx.dir, ctx.d.listen);
  ctx.clients.push(o);
  await listNodes(o);
  await conn.issueToken("svc");
  // another process (here: the same function `tether node renew` runs) renews both directories
  await renewIfDue(nodeDir, { force: true, daemon: ctx.d.listen });
  await renewIfDue(ctx.dir, { force: true, daemon: ctx.d.listen });
  await sleep(OVERLAP_MS + 300);
  // the old certificates are refused now; both moved to the stored ones
  await listNodes(o);
  await conn.issueToken("svc");
  assert.is(certInDir(nodeDir), (await admin<Device>(ctx.d, "GetDevice", { id: conn.deviceId })).certificateFingerprint);
});

R.run();
