/**
 * Devices that come back after their certificate expired (issue 14; docs/fleet.md §5A.5), with
 * the clocks of separate processes moved by libfaketime: the nodes pair at the real time; the
 * daemon is then restarted 3 days, then 40 days, ahead, and the nodes run on that clock too.
 * Away 3 days (within the 30-day grace): `tether node run` returns by itself and takes a job.
 * Away 40 days: its return waits as a pending request with a verification code, which the
 * admin compares and approves with the CLI, and the node comes back. A revoked device's
 * return is refused; a replayed return request, one signed by another key, and one with a
 * stale timestamp are refused, and none of them changes anything.
 */
import { randomBytes, generateKeyPairSync, sign } from "node:crypto";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { KeyProofPurpose, identityFromSeed, identitySign, keyProofMessage, returnSignedMessage, returnVerificationCode } from "@tether/crypto";
import { loadOrCreateIdentity } from "@tether/node";
import { call, cli, cliPair, expectStatus, fakeClock, rawPairing, spawnCli, startDaemonProcess, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { Ready } from "./helpers.ts";

const DAY = 24 * 60 * 60_000;
const ctx = {} as { tmp: ReturnType<typeof tempDir>; data: string; d?: ReturnType<typeof spawnCli>; ready: Ready; devices: Record<string, string> };
const R = suite("devices return after their certificate expired (faketime)");

R.before(async () => {
  ctx.tmp = tempDir("tether-ret-");
  ctx.data = join(ctx.tmp.path, "data");
  ctx.devices = {};
  const { d, ready } = await startDaemonProcess(ctx.data);
  ctx.d = d;
  ctx.ready = ready;
  for (const name of ["weekend", "guarded", "sleeper", "stolen", "probe"]) {
    const code = (JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data])).stdout) as { code: string }).code;
    const { result } = await cliPair(ctx.data, ["--daemon", ready.listen, "--pin", code, "--name", name], join(ctx.tmp.path, name));
    ctx.devices[name] = result.deviceId;
  }
  await stopDaemonProcess(d);
  ctx.d = undefined;
});
R.after(async () => {
  if (ctx.d) await stopDaemonProcess(ctx.d);
  ctx.tmp?.remove();
});

/** The daemon, restarted `offset` ahead (its port is new each time). */
async function daemonAt(offset: string) {
  if (ctx.d) await stopDaemonProcess(ctx.d);
  const { d, ready } = await startDaemonProcess(ctx.data, [], "127.0.0.1:0", fakeClock(offset));
  ctx.d = d;
  ctx.ready = ready;
}

type Entry = { type: string; actor: string; subject: string; details: Record<string, unknown> };
const audit = async () => JSON.parse((await cli(["audit", "--json", "--data-dir", ctx.data])).stdout) as Entry[];
const lines = (s: string) =>
  s
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** `tether node run` on the daemon's clock, with one capability. */
function nodeRun(name: string, offset: string) {
  return spawnCli(["node", "run", "--capability", "echo=cat", "--state-dir", join(ctx.tmp.path, name), "--daemon", ctx.ready.listen, "--json-logs"], fakeClock(offset));
}

R("away 3 days, within the 30-day grace: tether node run returns by itself and takes a job, with no admin", async () => {
  await daemonAt("+3d");
  const started = Date.now();
  const node = nodeRun("weekend", "+3d");
  try {
    await waitFor(() => lines(node.err()).find((l) => l.msg === "registered"), `the node registers (stderr: ${node.err()})`, 30_000);
    console.log(`# away 3 days: from start to connected ${Date.now() - started} ms`);
    const logged = lines(node.err());
    assert.ok(
      logged.find((l) => l.msg === "certificate expired: returning by the identity key"),
      "it says why",
    );
    assert.is(logged.find((l) => l.msg === "returned")?.approvedBy, "grace");
    const job = await cli(["dispatch", ctx.devices.weekend as string, "echo", "--input", '{"back":true}', "--json", "--data-dir", ctx.data], { env: fakeClock("+3d") });
    assert.is(job.code, 0, job.stderr);
    assert.equal((JSON.parse(job.stdout) as { output: unknown }).output, { back: true });
    const returned = (await audit()).filter((e) => e.type === "device.returned" && e.subject === ctx.devices.weekend);
    assert.is(returned.length, 1);
    const details = returned[0]?.details as { by: string; expiredForMs: number };
    assert.is(details.by, "grace");
    assert.ok(details.expiredForMs > 1.9 * DAY && details.expiredForMs < 2.1 * DAY, `it had expired 2 days before (${details.expiredForMs} ms)`);
  } finally {
    node.child.kill("SIGTERM");
    await node.exited;
  }
});

R("within the grace, a device the admin set to 'return needs approval' waits: tether node renew shows the code, the admin approves, it is back", async () => {
  const id = ctx.devices.guarded as string;
  const set = await cli(["devices", "return-policy", id, "approve", "--json", "--data-dir", ctx.data]);
  assert.is(set.code, 0, set.stderr);
  assert.is((JSON.parse(set.stdout) as { returnNeedsApproval: boolean }).returnNeedsApproval, true);
  const renew = spawnCli(["node", "renew", "--json", "--state-dir", join(ctx.tmp.path, "guarded"), "--daemon", ctx.ready.listen], fakeClock("+3d"));
  const said = await waitFor(() => /request (req_\w+)\); verification code (\d{3}-\d{3})/.exec(renew.err()), `node renew waits (stderr: ${renew.err()})`, 20_000);
  const listed = (JSON.parse((await cli(["pair", "list", "--state", "pending", "--json", "--data-dir", ctx.data])).stdout) as { id: string; verificationCode: string }[]).find(
    (r) => r.id === said[1],
  );
  assert.is(listed?.verificationCode, said[2], "the code the device printed is the listed one");
  const ok = await cli(["pair", "approve", said[1] as string, "--code", said[2] as string, "--data-dir", ctx.data], { env: fakeClock("+3d") });
  assert.is(ok.code, 0, ok.stderr);
  assert.is(await renew.exited, 0, renew.err());
  assert.is((JSON.parse(renew.out()) as { reason: string }).reason, "returned");
  const policy = (await audit()).find((e) => e.type === "device.return_policy_changed" && e.subject === id);
  assert.equal(policy?.details, { needsApproval: true });
});

R("away 40 days, past the grace: a pending return request with the node's verification code; approved by the admin, it comes back", async () => {
  await daemonAt("+40d");
  const node = nodeRun("sleeper", "+40d");
  try {
    const waiting = await waitFor(() => lines(node.err()).find((l) => l.msg === "return waits for an admin"), `the node waits (stderr: ${node.err()})`, 30_000);
    const listed = (
      JSON.parse((await cli(["pair", "list", "--state", "pending", "--json", "--data-dir", ctx.data])).stdout) as {
        id: string;
        method: string;
        deviceId: string;
        verificationCode: string;
        name: string;
      }[]
    ).find((r) => r.deviceId === ctx.devices.sleeper);
    assert.ok(listed, "the return is listed with the pending requests");
    assert.is(listed.method, "return");
    assert.is(listed.name, "sleeper");
    assert.is(listed.id, waiting.request);
    assert.is(listed.verificationCode, waiting.verificationCode, "the admin sees the code the device shows");
    const wrong = await cli(["pair", "approve", listed.id, "--code", listed.verificationCode === "000-000" ? "111-111" : "000-000", "--data-dir", ctx.data], {
      env: fakeClock("+40d"),
    });
    assert.is.not(wrong.code, 0, "a wrong code approves nothing");
    const ok = await cli(["pair", "approve", listed.id, "--code", listed.verificationCode, "--json", "--data-dir", ctx.data], { env: fakeClock("+40d") });
    assert.is(ok.code, 0, ok.stderr);
    await waitFor(() => lines(node.err()).find((l) => l.msg === "registered"), `the node registers once approved (stderr: ${node.err()})`, 30_000);
    assert.is(lines(node.err()).find((l) => l.msg === "returned")?.approvedBy, "admin");
    const returned = (await audit()).filter((e) => e.type === "device.returned" && e.subject === ctx.devices.sleeper);
    assert.is(returned[0]?.details.by, "admin");
  } finally {
    node.child.kill("SIGTERM");
    await node.exited;
  }
});

R("a revoked device cannot return: tether node renew says so (exit 8), and nothing is issued", async () => {
  const id = ctx.devices.stolen as string;
  const rv = await cli(["devices", "revoke", id, "--reason", "stolen", "--data-dir", ctx.data], { env: fakeClock("+40d") });
  assert.is(rv.code, 0, rv.stderr);
  const r = await cli(["node", "renew", "--state-dir", join(ctx.tmp.path, "stolen"), "--daemon", ctx.ready.listen], { env: fakeClock("+40d") });
  assert.is(r.code, 8, r.stderr);
  assert.match(r.stderr, /revoked/);
  const pending = JSON.parse((await cli(["pair", "list", "--state", "pending", "--json", "--data-dir", ctx.data])).stdout) as { deviceId: string }[];
  assert.not.ok(
    pending.some((p) => p.deviceId === id),
    "no return request for it",
  );
  // tether devices list --expiring: the expired ones not revoked (on the daemon's clock, as an admin's machine would be).
  const listed = await cli(["devices", "list", "--expiring", "1h", "--json", "--data-dir", ctx.data], { env: fakeClock("+40d") });
  assert.is(listed.code, 0, listed.stderr);
  const ids = (JSON.parse(listed.stdout) as { id: string }[]).map((d) => d.id).sort();
  assert.equal(ids, [ctx.devices.probe, ctx.devices.weekend, ctx.devices.guarded].sort(), "expired and not revoked; not the one just back (24 h left) nor the revoked one");
  const text = await cli(["devices", "list", "--expiring", "1h", "--data-dir", ctx.data], { env: fakeClock("+40d") });
  assert.match(text.stdout, /\(expired\)/);
  const bad = await cli(["devices", "list", "--expiring", "soon", "--data-dir", ctx.data]);
  assert.is(bad.code, 2);
});

R("a replayed return request, one signed by another key, and one with a stale timestamp are refused, and change nothing", async () => {
  const id = ctx.devices.probe as string;
  const dir = join(ctx.tmp.path, "probe");
  const identity = loadOrCreateIdentity(dir);
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  const build = (timestamp: number, secretKey = identity.secretKey.expose()) => ({
    deviceId: id,
    tlsPublicKey: spki,
    timestamp,
    signature: identitySign(secretKey, returnSignedMessage(id, spki, timestamp)),
    keyProof: new Uint8Array(sign("sha256", keyProofMessage(KeyProofPurpose.Return, id, spki, timestamp), { key: privateKey, dsaEncoding: "der" })),
  });
  const c = rawPairing(ctx.ready.listen);
  try {
    const daemonNow = Date.now() + 40 * DAY;
    // Another key: a fresh Ed25519 key signs it.
    const other = identityFromSeed(new Uint8Array(randomBytes(32)));
    assert.match(await expectStatus(call(c, "Return", build(daemonNow, other.secretKey)), status.UNAUTHENTICATED), /BAD_SIGNATURE/);
    // Stale: signed at the real time, 40 days behind the daemon.
    assert.match(await expectStatus(call(c, "Return", build(Date.now())), status.UNAUTHENTICATED), /STALE_TIMESTAMP/);
    const before = (await audit()).length;
    // The real one, past the grace: a pending request, with the code computed from its bytes.
    const req = build(daemonNow + 1000);
    const first = await call<{ state: string; requestId: string; verificationCode: string }>(c, "Return", req);
    assert.is(first.state, "pending");
    assert.is(first.verificationCode, returnVerificationCode(returnSignedMessage(id, spki, req.timestamp)));
    // Replayed byte for byte: refused, and no second request.
    assert.match(await expectStatus(call(c, "Return", req), status.UNAUTHENTICATED), /REPLAYED/);
    const pending = (JSON.parse((await cli(["pair", "list", "--state", "pending", "--json", "--data-dir", ctx.data])).stdout) as { deviceId: string }[]).filter(
      (p) => p.deviceId === id,
    );
    assert.is(pending.length, 1, "one return request, from the first");
    const after = await audit();
    // Refused Pairing calls are audited as such (coalesced `handshake.failed` entries); nothing else was written for them.
    assert.equal(
      after
        .slice(before)
        .map((e) => e.type)
        .filter((t) => t !== "handshake.failed"),
      ["request.created"],
      "only the accepted request changed anything",
    );
    // An unknown device, and a malformed id.
    assert.match(await expectStatus(call(c, "Return", { ...build(daemonNow + 2000), deviceId: "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa" }), status.NOT_FOUND), /DEVICE_NOT_FOUND/);
    assert.match(await expectStatus(call(c, "Return", { ...build(daemonNow + 3000), deviceId: "nope" }), status.INVALID_ARGUMENT), /deviceId/);
  } finally {
    c.close();
  }
});

R.run();
