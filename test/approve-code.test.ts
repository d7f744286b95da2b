/**
 * Approving the right node: `tether pair approve ID --code NNN-NNN` refuses a request whose
 * verification code is another (exit 5, nothing written), and `tether pair approve --code`
 * alone approves the one pending request with that code (none: exit 4; several: exit 5,
 * naming them, nothing approved). The daemon compares the code in the same step as the
 * approval. A real daemon; the CLI in-process (its `main()`), a real node through the SDK,
 * and raw handshakes for the attacker's requests.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pair } from "@tether/node";
import type { PairResult } from "@tether/node";
import { PAIRING_TABLES } from "@tether/pairing";
import type { PairingTables } from "@tether/pairing";
import { Store } from "@tether/store";
import type { PairRequest } from "@tether/wire";
import { admin, cliInProcess, handshakeFinish, handshakeStart, mintCode, pinParts, rawPairing, startTestDaemon, tempDir } from "./helpers.ts";
import type { RawPairing, TestDaemon } from "./helpers.ts";

const ctx = {} as { d: TestDaemon; c: RawPairing; tmp: ReturnType<typeof tempDir>; dataDir: string };
const A = suite("pair approve --code: only the request with the code the admin compared");

A.before(async () => {
  ctx.tmp = tempDir();
  ctx.dataDir = join(ctx.tmp.path, "data");
  ctx.d = await startTestDaemon({ dataDir: ctx.dataDir });
  ctx.c = rawPairing(ctx.d.listen);
});

A.after(async () => {
  ctx.c.close();
  await ctx.d.stop();
  ctx.tmp.remove();
});

/** The CLI in this process, against the test daemon. */
const tether = (...args: string[]) => cliInProcess([...args, "--data-dir", ctx.dataDir]);

const requests = (state = "") => admin<{ requests: PairRequest[] }>(ctx.d, "ListRequests", { state }).then((r) => r.requests);
const devices = () => admin<{ devices: { id: string }[] }>(ctx.d, "ListDevices").then((r) => r.devices.map((d) => d.id));
const auditCount = async () => (await admin<{ entries: unknown[] }>(ctx.d, "ListAudit", { since: 0, limit: 1000, before: 0 })).entries.length;

/** A real node pairing through the SDK; resolves with its request and code once it waits for the admin. */
async function waitingNode(name: string): Promise<{ requestId: string; deviceId: string; code: string; paired: Promise<PairResult> }> {
  const pin = (await mintCode(ctx.d)).code;
  let told: (v: { requestId: string; deviceId: string; code: string }) => void = () => {};
  const waiting = new Promise<{ requestId: string; deviceId: string; code: string }>((r) => (told = r));
  const paired = pair({
    daemon: ctx.d.listen,
    pin,
    name,
    role: "node",
    stateDir: join(ctx.tmp.path, name),
    onVerificationCode: (code, info) => told({ requestId: info.requestId, deviceId: info.deviceId, code }),
  });
  paired.catch(() => undefined); // awaited by the tests that expect it to finish
  return { ...(await waiting), paired };
}

/** A pending request made by a raw handshake (another party's), with its verification code. */
async function rawRequest(): Promise<{ requestId: string; deviceId: string; code: string }> {
  const h = await handshakeStart(ctx.c, pinParts((await mintCode(ctx.d)).code));
  const { requestId, deviceId } = await handshakeFinish(ctx.c, h);
  return { requestId, deviceId, code: h.session.verificationCode };
}

/** A verification code other than `code` (its last digit changed). */
function another(code: string): string {
  return code.slice(0, -1) + String((Number(code.slice(-1)) + 1) % 10);
}

A("approve ID --code with another code: exit 5, the request stays pending, no device, no certificate, nothing audited", async () => {
  const n = await waitingNode("mismatch");
  const audited = await auditCount();
  const r = await tether("pair", "approve", n.requestId, "--code", another(n.code));
  assert.is(r.code, 5, r.stderr);
  assert.match(r.stderr, /VERIFICATION_MISMATCH: .*nothing was approved/);
  assert.is(r.stdout, "");
  const req = (await requests()).find((x) => x.id === n.requestId);
  assert.is(req?.state, "pending");
  assert.is(req?.certificateFingerprint, "", "no certificate issued");
  assert.not.ok((await devices()).includes(n.deviceId), "no device recorded");
  assert.is(await auditCount(), audited, "nothing written to the audit log");
  // The right code, typed as 6 digits, approves it; the waiting node gets the certificate.
  const ok = await tether("pair", "approve", n.requestId, "--code", n.code.replace("-", ""), "--json");
  assert.is(ok.code, 0, ok.stderr);
  const approved = JSON.parse(ok.stdout) as PairRequest;
  assert.is(approved.state, "approved");
  assert.is(approved.verificationCode, n.code);
  assert.is((await n.paired).requestId, n.requestId);
});

A("an attacker's request raced in first: --code approves the node's, never the attacker's", async () => {
  const attacker = await rawRequest();
  const n = await waitingNode("victim");
  const pending = await requests("pending");
  // The README's old one-liner approved the oldest pending request: the attacker's.
  assert.is(pending[0]?.id, attacker.requestId, "the attacker's request is listed first");
  // The admin's code cannot approve the attacker's request, even by its id.
  const wrong = await tether("pair", "approve", attacker.requestId, "--code", n.code);
  assert.is(wrong.code, 5, wrong.stderr);
  const r = await tether("pair", "approve", "--code", n.code);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`approved ${n.requestId}: device ${n.deviceId} \\(victim\\)`));
  assert.match(r.stdout, new RegExp(`verification code: ${n.code}`));
  assert.is((await n.paired).deviceId, n.deviceId);
  const after = await requests();
  assert.is(after.find((x) => x.id === attacker.requestId)?.state, "pending", "the attacker's request is untouched");
  assert.not.ok((await devices()).includes(attacker.deviceId), "the attacker got no device");
  await admin(ctx.d, "RejectRequest", { id: attacker.requestId, reason: "not ours" });
});

A("--code alone with no pending request that has it: exit 4; malformed codes and a missing id and code: exit 2; nothing approved", async () => {
  const other = await rawRequest();
  const none = await tether("pair", "approve", "--code", another(other.code));
  assert.is(none.code, 4, none.stderr);
  assert.match(none.stderr, /no pending pairing request has verification code/);
  for (const bad of ["12345", "1234567", "12-3456", "abc-def", "123 456", "", "١٢٣٤٥٦"]) {
    const r = await tether("pair", "approve", "--code", bad);
    assert.is(r.code, 2, `--code ${JSON.stringify(bad)}: ${r.stderr}`);
    assert.match(r.stderr, /"--code" must be 6 digits, as NNN-NNN or NNNNNN/);
  }
  const missing = await tether("pair", "approve");
  assert.is(missing.code, 2, missing.stderr);
  // The daemon checks the code too (the admin API is a boundary of its own).
  await admin(ctx.d, "ApproveRequest", { id: "", role: "", code: "12x-456" }).then(
    () => assert.unreachable("a malformed code was accepted"),
    (e: { exitCode: number; message: string }) => {
      assert.is(e.exitCode, 2, e.message);
      assert.match(e.message, /INVALID_ARGUMENT: "code" must be 6 digits/);
    },
  );
  await admin(ctx.d, "ApproveRequest", { id: "", role: "", code: "" }).then(
    () => assert.unreachable("neither id nor code was accepted"),
    (e: { exitCode: number }) => assert.is(e.exitCode, 2),
  );
  assert.is((await requests()).find((x) => x.id === other.requestId)?.state, "pending");
  await admin(ctx.d, "RejectRequest", { id: other.requestId, reason: "" });
});

A("approve --code racing a reject of the same request: exactly one decision, and a rejected request is never approved", async () => {
  for (let round = 0; round < 3; round++) {
    const r = await rawRequest();
    const [a, j] = await Promise.allSettled([
      admin<PairRequest>(ctx.d, "ApproveRequest", { id: "", role: "", code: r.code }),
      admin<PairRequest>(ctx.d, "RejectRequest", { id: r.requestId, reason: "race" }),
    ]);
    assert.is([a, j].filter((x) => x.status === "fulfilled").length, 1, "exactly one decision");
    if (a.status === "rejected") assert.is((a.reason as { exitCode: number }).exitCode, 4, "no pending request has the code any more");
    assert.is((await devices()).includes(r.deviceId), a.status === "fulfilled");
  }
});

// Last: it restarts the daemon on a store with a planted duplicate code.
A("--code alone held by two pending requests: exit 5 naming both, nothing approved", async () => {
  const one = await rawRequest();
  const two = await rawRequest();
  // Two handshakes giving the same 6-digit code happen once in a million; plant one.
  ctx.c.close();
  await ctx.d.close();
  const store = await Store.open<PairingTables>(join(ctx.dataDir, "store"), PAIRING_TABLES);
  try {
    const rec = await store.get("requests", two.requestId);
    if (!rec) throw new Error("request two is not in the store");
    await store.batch([{ table: "requests", type: "put", value: { ...rec, verificationCode: one.code } }]);
  } finally {
    await store.close();
  }
  ctx.d = await startTestDaemon({ dataDir: ctx.dataDir });
  ctx.c = rawPairing(ctx.d.listen);
  const audited = await auditCount();
  const r = await tether("pair", "approve", "--code", one.code);
  assert.is(r.code, 5, r.stderr);
  assert.match(r.stderr, new RegExp(`AMBIGUOUS_VERIFICATION_CODE: 2 pending requests have verification code ${one.code}: `));
  assert.ok(r.stderr.includes(one.requestId) && r.stderr.includes(two.requestId), r.stderr);
  assert.ok(r.stderr.includes(one.deviceId) && r.stderr.includes(two.deviceId), r.stderr);
  const states = (await requests()).filter((x) => x.id === one.requestId || x.id === two.requestId).map((x) => x.state);
  assert.equal(states, ["pending", "pending"]);
  assert.not.ok((await devices()).some((id) => id === one.deviceId || id === two.deviceId));
  assert.is(await auditCount(), audited, "nothing written");
  // By its id, with the code, the admin approves the one they meant.
  const byId = await tether("pair", "approve", one.requestId, "--code", one.code);
  assert.is(byId.code, 0, byId.stderr);
});

A.run();
