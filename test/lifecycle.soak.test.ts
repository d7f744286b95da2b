/**
 * The credential lifecycle end to end, with real processes over real mutual TLS, for 5 minutes
 * (TETHER_SOAK_SECONDS; test/run.js runs this file alongside the others):
 * - a node with 1-minute certificates (`tether node run`) takes a job every 5 s from an
 *   orchestrator over mutual TLS, renewing several times on one uninterrupted stream, and no
 *   job fails;
 * - a preauthorized node pairs with no admin action;
 * - two nodes talk over peer mutual TLS and verify each other's tokens;
 * - one of them is revoked: the other learns it from the pushed CRL, `Verify` says revoked,
 *   openssl refuses it with the exported CRL, and its peer calls fail;
 * - the daemon's server certificate rotates under this live traffic;
 * - the audit chain verifies, and detects a tampered entry.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AUDIT_TABLES } from "@tether/audit";
import type { AuditEntry, AuditTables } from "@tether/audit";
import { connect, connectPeer, createPeerServer } from "@tether/node";
import type { HeldCrl, NodeConnection, PeerServer } from "@tether/node";
import { Store } from "@tether/store";
import { admin, cli, cliPair, spawnCli, startDaemonProcess, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";

const SECONDS = Number(process.env.TETHER_SOAK_SECONDS ?? 300);

function openssl(args: string[], input = ""): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync("openssl", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] }) };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

/** SHA-256 fingerprint (hex) of the certificate a fresh TLS connection to `address` is served. */
function servedFingerprint(address: string): string {
  const r = openssl(["s_client", "-connect", address, "-servername", "localhost"], "");
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.out)?.[0];
  if (!pem) throw new Error(`no certificate from ${address}: ${r.out.slice(0, 500)}`);
  return new X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase();
}

test(`credential lifecycle: ${SECONDS} s of 1-minute certificates under work, preauthorization, peers, tokens, revocation, rotation, audit`, async () => {
  const tmp = tempDir();
  const data = join(tmp.path, "data");
  const dd = ["--data-dir", data];
  const { d, ready } = await startDaemonProcess(data, ["--cert-lifetime", "1m"]);
  const dirs = { a: join(tmp.path, "a"), orch: join(tmp.path, "orch"), p: join(tmp.path, "p"), c: join(tmp.path, "c") };
  const pin = async () => (JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", ...dd])).stdout) as { code: string }).code;
  let runner: ReturnType<typeof spawnCli> | undefined;
  let cp: NodeConnection | undefined;
  let cc: NodeConnection | undefined;
  let server: PeerServer | undefined;
  try {
    const a = (await cliPair(data, ["--daemon", ready.listen, "--pin", await pin(), "--name", "worker"], dirs.a)).result.deviceId;
    await cliPair(data, ["--daemon", ready.listen, "--pin", await pin(), "--name", "boss", "--role", "orchestrator"], dirs.orch);
    runner = spawnCli(["node", "run", "--state-dir", dirs.a, "--json-logs", "--capability", "echo=cat"]);
    await waitFor(() => runner?.err().includes('"registered"'), "worker registered", 30_000);

    // The soak: a job every 5 s, dispatched by the orchestrator device over mutual TLS.
    const started = Date.now();
    const until = started + SECONDS * 1000;
    let jobs = 0;
    const failures: string[] = [];
    const soak = (async () => {
      while (Date.now() < until) {
        const r = await cli(["dispatch", a, "echo", "--input", `{"n":${jobs}}`, "--timeout", "30", "--json", "--state-dir", dirs.orch]);
        const out = r.code === 0 ? (JSON.parse(r.stdout) as { state: string; output: unknown }) : undefined;
        if (!out || out.state !== "succeeded" || JSON.stringify(out.output) !== JSON.stringify({ n: jobs })) failures.push(`job ${jobs}: exit ${r.code} ${r.stdout} ${r.stderr}`);
        jobs++;
        const next = started + jobs * 5000; // one job every 5 s, whatever a dispatch takes
        await new Promise((res) => setTimeout(res, Math.max(0, Math.min(next, until) - Date.now())));
      }
    })();

    // A preauthorized node pairs with no admin action (factory provisioning).
    const ident = JSON.parse((await cli(["node", "identity", "--state-dir", dirs.p, "--json"])).stdout) as { identityKey: string; deviceId: string };
    assert.is((await cli(["devices", "preauthorize", "--identity-key", ident.identityKey, "--name", "factory", "--json", ...dd])).code, 0);
    const pre = spawnCli(["node", "pair", "--daemon", ready.listen, "--pin", await pin(), "--name", "factory", "--state-dir", dirs.p, "--json"]);
    assert.is(await pre.exited, 0, `the preauthorized node paired by itself: ${pre.err()}`);
    assert.is((JSON.parse(pre.out()) as { deviceId: string }).deviceId, ident.deviceId);

    // Two nodes talk over peer mutual TLS, and check each other's tokens.
    const c = (await cliPair(data, ["--daemon", ready.listen, "--pin", await pin(), "--name", "caller"], dirs.c)).result.deviceId;
    cp = connect(dirs.p);
    cc = connect(dirs.c);
    for (const n of [cp, cc]) {
      n.handle("noop", () => null);
      n.on("fatal", () => undefined);
      await n.start();
    }
    server = await createPeerServer(cp, { hello: (x, peer) => ({ from: peer.deviceId, echo: x }) }, { verifyCacheMs: 0 });
    const peer = connectPeer(cc, `127.0.0.1:${server.port}`, { expectDeviceId: ident.deviceId, verifyCacheMs: 0 });
    assert.equal(await peer.call("hello", 1), { from: c, echo: 1 });
    const { token } = await cc.issueToken(`tether:${ident.deviceId}`, 300);
    assert.is((await cp.verifyToken(token, `tether:${ident.deviceId}`)).sub, c, "the peer verifies the caller's token offline");
    const tokenCheck = () =>
      admin<{ status: string }>({ dataDir: data }, "Verify", { certificate: new Uint8Array(), token, audience: `tether:${ident.deviceId}`, peerDeviceId: "" });
    assert.is((await tokenCheck()).status, "valid");

    // Revoke the caller: the peer learns it from the CRL pushed on its stream, Verify and
    // openssl (with the exported CRL) say revoked, and the caller's peer calls fail.
    const cCert = new X509Certificate(readFileSync(join(dirs.c, "cert.pem")));
    const pushed = new Promise<HeldCrl>((res) => cp?.on("crl", (crl: HeldCrl) => crl.revokedSerials.size > 0 && res(crl)));
    assert.is((await cli(["devices", "revoke", c, "--reason", "lifecycle test", ...dd])).code, 0);
    await pushed;
    assert.ok(cp.isSerialRevoked(cCert.serialNumber), "the pushed CRL lists the caller");
    const v = await cli(["ca", "verify", join(dirs.c, "cert.pem"), "--json", ...dd]);
    assert.is((JSON.parse(v.stdout) as { status: string }).status, "revoked");
    assert.is((await tokenCheck()).status, "revoked", "the revoked device's token fails Verify");
    assert.is((await cli(["ca", "crl", "--out", join(tmp.path, "crl.pem"), ...dd])).code, 0);
    const crlCheck = openssl(["verify", "-crl_check", "-CAfile", join(dirs.c, "ca.pem"), "-CRLfile", join(tmp.path, "crl.pem"), join(dirs.c, "cert.pem")]);
    assert.not.ok(crlCheck.ok, "openssl accepted a revoked certificate");
    assert.match(crlCheck.out, /revoked/);
    const refused = (await peer.call("hello", 2).then(
      () => undefined,
      (e: Error) => e,
    )) as Error | undefined;
    assert.ok(refused, "a revoked caller was served");
    peer.close();

    // The daemon's server certificate rotates under the live traffic.
    const before = servedFingerprint(ready.listen);
    const rot = await cli(["ca", "rotate", "--json", ...dd]);
    assert.is(rot.code, 0, rot.stderr);
    const rotated = JSON.parse(rot.stdout) as { serverFingerprint: string };
    assert.is.not(rotated.serverFingerprint, before);
    assert.is(servedFingerprint(ready.listen), rotated.serverFingerprint, "new connections get the new server certificate");

    await soak;
    const log = runner.err();
    const renewals = log.split("\n").filter((l) => l.includes('"certificate renewed"')).length;
    const registrations = log.split("\n").filter((l) => l.includes('"registered"')).length;
    console.log(`    ${jobs} jobs, ${renewals} renewals, ${registrations} registration(s) in ${SECONDS} s`);
    assert.equal(failures, [], "no job failed");
    assert.ok(jobs >= Math.floor(SECONDS / 5) - 2, `a job every 5 s (${jobs})`);
    assert.ok(renewals >= Math.max(1, Math.floor(SECONDS / 60)), `renewed ${renewals} times in ${SECONDS} s with 1-minute certificates`);
    assert.is(registrations, 1, "one uninterrupted stream through renewals and the server rotation");
    assert.not.match(log, /renewal failed/);

    // The audit chain verifies; a changed entry is detected.
    const ok = await cli(["audit", "verify", "--json", ...dd]);
    assert.is(ok.code, 0, ok.stdout);
    const types = (JSON.parse((await cli(["audit", "--json", ...dd])).stdout) as { type: string }[]).map((e) => e.type);
    for (const t of ["code.minted", "preauthorization.created", "request.approved", "certificate.renewed", "device.revoked", "job.dispatched", "daemon.certificates_rotated"]) {
      assert.ok(types.includes(t), `audit has ${t}`);
    }
    await cp.close();
    await cc.close();
    await server.close();
    server = undefined;
    await stopDaemonProcess(runner, "SIGKILL");
    await stopDaemonProcess(d, "SIGTERM");
    const store = await Store.open<AuditTables>(join(data, "store"), AUDIT_TABLES);
    const victim = (await store.list("audit")).find((e) => e.type === "device.revoked") as AuditEntry;
    await store.batch([{ table: "audit", type: "put", value: { ...victim, details: { reason: "nothing to see" } } }]);
    await store.close();
    const again = await startDaemonProcess(data, ["--cert-lifetime", "1m"]);
    try {
      const broken = await cli(["audit", "verify", ...dd]);
      assert.is(broken.code, 13);
      assert.match(broken.stdout, new RegExp(`BROKEN at entry ${victim.seq}`));
    } finally {
      await stopDaemonProcess(again.d, "SIGKILL");
    }
  } finally {
    await server?.close();
    await cp?.close();
    await cc?.close();
    if (runner) await stopDaemonProcess(runner, "SIGKILL");
    await stopDaemonProcess(d, "SIGKILL");
    tmp.remove();
  }
});

test.run();
