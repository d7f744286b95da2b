/**
 * Fleet checks that a planted bug once slipped past (issue 16), against a real in-process
 * daemon (mutual TLS on port 0, real LevelDB) and nodes paired through the real handshake:
 * Node calls without a client certificate, a peer-server certificate on the CRL after its
 * device is revoked, a job's deadline across a daemon restart, and a revoked orchestrator's
 * waiting calls.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Metadata, credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { serialKey, verifyCrl } from "@tether/ca";
import { connect, orchestrator } from "@tether/node";
import type { NodeConnection } from "@tether/node";
import { tetherPackageDefinition } from "@tether/wire";
import type { Job } from "@tether/wire";
import { rpc } from "../packages/cli/src/cli.ts";
import { admin, pairDevice, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; conns: NodeConnection[] };
const F = suite("planted bugs: fleet");

const startDaemon = (listen?: string) => startTestDaemon({ dataDir: `${ctx.tmp.path}/data`, ...(listen ? { listen } : {}) });

F.before(async () => {
  ctx.tmp = tempDir();
  ctx.conns = [];
  ctx.d = await startDaemon();
});
F.after(async () => {
  for (const c of ctx.conns) await c.close();
  await ctx.d.stop();
  ctx.tmp.remove();
});

async function startNode(dir: string, handlers: Record<string, () => unknown>): Promise<NodeConnection> {
  const c = connect(dir);
  for (const [k, f] of Object.entries(handlers)) c.handle(k, f as never);
  c.on("fatal", () => undefined);
  ctx.conns.push(c);
  await c.start();
  return c;
}

const local = () => ({ kind: "socket" as const, dataDir: ctx.d.dataDir });
const dispatch = (req: object) => rpc<Job>("Orchestrator", local(), "Dispatch", { timeoutMs: 0, idempotencyKey: "", input: Buffer.from("null"), ...req });
const getJob = (id: string) => rpc<Job>("Orchestrator", local(), "GetJob", { id });
const never = () => new Promise(() => {});

/** Settle within `ms`, or say that it did not. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

F("every Node call without a client certificate is refused UNAUTHENTICATED, Verify included", async () => {
  const dir = `${ctx.tmp.path}/verifier`;
  await pairDevice(ctx.d, dir, { name: "verifier" });
  const certificate = new X509Certificate(readFileSync(`${dir}/cert.pem`)).raw;
  type Unary = (req: object, md: Metadata, o: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as {
    tether: { v1: { Node: new (a: string, c: ReturnType<typeof credentials.createSsl>, o: object) => Client & Record<string, Unary> } };
  };
  // TLS that verifies the daemon, but no client certificate (the listener does not demand one: Pairing needs none)
  const anon = new pkg.tether.v1.Node(ctx.d.listen, credentials.createSsl(Buffer.from(ctx.d.caPem), null, null, { checkServerIdentity: () => undefined }), {
    "grpc.ssl_target_name_override": "localhost",
  });
  const ask = (m: string, req: object) =>
    new Promise<ServiceError | undefined>((resolve) => (anon[m] as Unary).call(anon, req, new Metadata(), { deadline: Date.now() + 10_000 }, (e) => resolve(e ?? undefined)));
  try {
    const calls: [string, object][] = [
      ["Verify", { certificate, token: "", audience: "", peerDeviceId: "" }],
      ["Verify", { certificate: new Uint8Array(), token: "x.y.z", audience: "svc", peerDeviceId: "" }],
      ["GetCrl", {}],
      ["GetJwks", {}],
      ["IssueToken", { audience: "svc", ttlSeconds: 60 }],
      ["Renew", { tlsPublicKey: new Uint8Array(), timestamp: Date.now(), signature: new Uint8Array() }],
      ["IssuePeerCertificate", { tlsPublicKey: new Uint8Array(), timestamp: Date.now(), signature: new Uint8Array() }],
    ];
    for (const [m, req] of calls) {
      const e = await ask(m, req);
      assert.ok(e, `Node.${m} answered a caller without a certificate`);
      assert.is(e.code, status.UNAUTHENTICATED, `Node.${m}: ${e.details}`);
      assert.match(e.details, /^NO_CLIENT_CERT/, m);
    }
  } finally {
    anon.close();
  }
});

F("revoking a device puts its peer-server certificates on the CRL too, as openssl sees it", async () => {
  const dir = `${ctx.tmp.path}/server`;
  const id = await pairDevice(ctx.d, dir, { name: "server" });
  const c = await startNode(dir, { noop: () => null });
  const peerCerts = [await c.issuePeerCertificate(), await c.issuePeerCertificate()].map((p) => new X509Certificate(p.certPem));
  const client = new X509Certificate(readFileSync(`${dir}/cert.pem`));
  await admin(ctx.d, "RevokeDevice", { id, reason: "peer serials" });
  const der = (await admin<{ crl: Uint8Array }>(ctx.d, "GetCrl", {})).crl;
  const crl = await verifyCrl(der, new X509Certificate(ctx.d.caPem).raw);
  assert.ok(crl.revokedSerials.has(serialKey(client.serialNumber)), "the client certificate is listed");
  for (const p of peerCerts) assert.ok(crl.revokedSerials.has(serialKey(p.serialNumber)), `peer-server certificate ${p.serialNumber} is not on the CRL`);
  // and openssl, knowing nothing of tether, refuses the peer-server certificate with that CRL
  const f = (name: string, text: string) => (writeFileSync(`${ctx.tmp.path}/${name}`, text), `${ctx.tmp.path}/${name}`);
  const crlPem = f("peer-crl.pem", `-----BEGIN X509 CRL-----\n${Buffer.from(der).toString("base64")}\n-----END X509 CRL-----\n`);
  const ca = f("peer-ca.pem", ctx.d.caPem);
  for (const [i, p] of peerCerts.entries()) {
    const cert = f(`peer-${i}.pem`, p.toString());
    let out = "";
    try {
      execFileSync("openssl", ["verify", "-crl_check", "-purpose", "sslserver", "-CAfile", ca, "-CRLfile", crlPem, cert], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      out = "verified";
    } catch (e) {
      out = `${(e as { stdout?: string }).stdout ?? ""}${(e as { stderr?: string }).stderr ?? ""}`;
    }
    assert.match(out, /certificate revoked/, `openssl: ${out}`);
  }
});

F("a job reloaded at a restart still times out at its deadline", async () => {
  const dir = `${ctx.tmp.path}/sleeper`;
  const id = await pairDevice(ctx.d, dir, { name: "sleeper" });
  const first = await startNode(dir, { work: never });
  await first.close(); // it announced "work" and is now offline: the job waits in the queue
  const timeoutMs = 5_000;
  const j = await dispatch({ deviceId: id, capability: "work", timeoutMs });
  assert.is(j.state, "queued");
  await ctx.d.close();
  ctx.d = await startDaemon(ctx.d.listen);
  const reloaded = await getJob(j.id);
  assert.is(reloaded.state, "queued", `the restart took longer than the job's ${timeoutMs} ms (${reloaded.error}); nothing was tested`);
  let done = reloaded;
  while (done.state === "queued" && Date.now() < j.deadline + 3_000) {
    await new Promise((r) => setTimeout(r, 100));
    done = await getJob(j.id);
  }
  assert.is(done.state, "timed_out", `still ${done.state} ${Date.now() - j.deadline} ms after its deadline`);
  assert.match(done.error, /deadline passed before a result arrived/);
  assert.ok(done.updatedAt >= j.deadline, "timed out before its deadline");
  assert.ok(done.updatedAt < j.deadline + 2_000, `timed out ${done.updatedAt - j.deadline} ms after its deadline`);
});

F("revoking an orchestrator ends its waiting Run and WatchJob calls at once, with the revocation status", async () => {
  const nodeDir = `${ctx.tmp.path}/worker`;
  const orchDir = `${ctx.tmp.path}/boss`;
  const node = await pairDevice(ctx.d, nodeDir, { name: "worker" });
  const orch = await pairDevice(ctx.d, orchDir, { role: "orchestrator", name: "boss" });
  await startNode(nodeDir, { hold: never });
  const o = orchestrator(orchDir, ctx.d.listen);
  try {
    // WatchJob on a job of its own (an orchestrator sees only its own jobs, fleet.md §6.1.1)
    // that will not finish for a minute
    const watched = await new Promise<Job>((resolve, reject) =>
      o.Dispatch({ deviceId: node, capability: "hold", input: Buffer.from("null"), timeoutMs: 60_000, idempotencyKey: "" }, new Metadata(), {}, (e, r) =>
        e ? reject(e) : resolve(r as Job),
      ),
    );
    const stream = o.WatchJob({ id: watched.id });
    const watchEnd = new Promise<{ code: number; details: string }>((resolve) => {
      stream.on("error", (e: ServiceError) => resolve({ code: e.code, details: e.details }));
      stream.on("end", () => resolve({ code: status.OK, details: "ended without an error" }));
    });
    // the first state, or fail at once if the stream ends instead (never hang)
    await Promise.race([new Promise((r) => stream.once("data", r)), watchEnd.then((e) => assert.unreachable(`WatchJob ended before its first message: ${e.details}`))]);
    // Run on another, waiting for its final state
    const run = new Promise<ServiceError | Job>((resolve) =>
      o.Run({ deviceId: node, capability: "hold", input: Buffer.from("null"), timeoutMs: 60_000, idempotencyKey: "" }, new Metadata(), { deadline: Date.now() + 90_000 }, (e, r) =>
        resolve(e ?? (r as Job)),
      ),
    );
    await waitFor(async () => {
      const jobs = (await rpc<{ jobs: Job[] }>("Orchestrator", local(), "ListJobs", { deviceId: node, state: "", limit: 10 })).jobs;
      return jobs.filter((j) => j.dispatchedBy === orch).length === 2;
    }, "the Run's job to be dispatched");
    await new Promise((r) => setTimeout(r, 100)); // Run is now waiting for the final job
    const t0 = Date.now();
    await admin(ctx.d, "RevokeDevice", { id: orch, reason: "compromised" });
    const w = await within(watchEnd, 2_000, "WatchJob");
    const r = (await within(run, 2_000, "Run")) as ServiceError;
    const ms = Date.now() - t0;
    assert.is(w.code, status.PERMISSION_DENIED, w.details);
    assert.match(w.details, /revoked/);
    assert.ok(r instanceof Error, "Run answered with a job");
    assert.is(r.code, status.PERMISSION_DENIED, r.details);
    assert.match(r.details, /revoked/);
    assert.ok(ms < 2_000, `ended ${ms} ms after the revocation`);
    // the jobs themselves are not the orchestrator's to end: they keep running on the node
    assert.is((await getJob(watched.id)).state, "running");
  } finally {
    o.close();
  }
});

F.run();
