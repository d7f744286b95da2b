/**
 * Pairing checks that a planted bug once slipped past (issue 16), each against a real daemon
 * (TLS listener on port 0, LevelDB in a temp dir, admin socket) and a raw Pairing client: an
 * empty key confirmation or signature at Finish, a used code forgotten across a restart, a
 * request approved after its device was revoked, an Await signed in the future, and an
 * expired code answered by Start before the sweeper deleted it.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { awaitSignedMessage, deviceIdFromIdentityKey, identitySign } from "@tether/crypto";
import { createLogger, resolveDaemonConfig, startDaemon } from "@tether/daemon";
import type { RunningDaemon } from "@tether/daemon";
import type { Device, PairRequest } from "@tether/wire";
import { admin, expectStatus, handshakeFinish, handshakeStart, mintCode, nodeKeys, pinParts, rawPairing, tempDir } from "./helpers.ts";
import type { CodeParts, RawPairing } from "./helpers.ts";

let clockOffset = 0;
const now = () => Date.now() + clockOffset;
type Daemon = RunningDaemon & { dataDir: string };
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: Daemon; c: RawPairing };
const P = suite("planted bugs: pairing");

/**
 * A daemon on the injected clock whose sweeper never runs during the test: an expired code
 * must then be refused by Start itself, not merely deleted by the sweep.
 */
async function start(): Promise<Daemon> {
  const dataDir = join(ctx.tmp.path, "data");
  const d = await startDaemon(resolveDaemonConfig({ dataDir, listen: "127.0.0.1:0", sweepIntervalMs: 3_600_000 }), {
    log: createLogger(() => {}),
    now,
    startRateLimit: { burst: 10_000, perSecond: 10_000 },
  });
  return { ...d, dataDir };
}

async function restart(): Promise<void> {
  ctx.c.close();
  await ctx.d.close();
  ctx.d = await start();
  ctx.c = rawPairing(ctx.d.listen);
}

P.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await start();
  ctx.c = rawPairing(ctx.d.listen);
});
P.after(async () => {
  ctx.c.close();
  await ctx.d.close();
  ctx.tmp.remove();
});

const requests = async () => (await admin<{ requests: PairRequest[] }>(ctx.d, "ListRequests", { state: "" })).requests;
const wrongSecret = (p: CodeParts & { secret: string }) => ({ ...p, secret: p.secret === "13572468" ? "24681357" : "13572468" });

P("Finish with an empty key confirmation is refused: a code's selector alone creates no request", async () => {
  const code = await mintCode(ctx.d);
  const parts = pinParts(code.code);
  // The attacker knows the public selector only: its secret is wrong, so it cannot compute
  // the confirmation and sends none, with a valid signature by its own identity key.
  const h = await handshakeStart(ctx.c, wrongSecret(parts));
  const details = await expectStatus(handshakeFinish(ctx.c, h, { nodeConfirmation: new Uint8Array(0) }), status.UNAUTHENTICATED);
  assert.match(details, /^WRONG_CODE/);
  const attacker = deviceIdFromIdentityKey(h.keys.identityKey);
  assert.not.ok(
    (await requests()).some((r) => r.deviceId === attacker),
    "an empty confirmation created a request",
  );
  // nor with the right code: the confirmation is what proves it
  const h2 = await handshakeStart(ctx.c, parts);
  assert.match(await expectStatus(handshakeFinish(ctx.c, h2, { nodeConfirmation: new Uint8Array(0) }), status.UNAUTHENTICATED), /^WRONG_CODE/);
  assert.not.ok((await requests()).some((r) => r.deviceId === deviceIdFromIdentityKey(h2.keys.identityKey)));
  // the code is still good for the node that has it
  const honest = await handshakeStart(ctx.c, parts);
  const done = await handshakeFinish(ctx.c, honest);
  assert.is((await requests()).find((r) => r.id === done.requestId)?.state, "pending");
});

P("Finish with an empty node signature is refused and stores nothing", async () => {
  const code = await mintCode(ctx.d);
  const h = await handshakeStart(ctx.c, pinParts(code.code));
  const details = await expectStatus(handshakeFinish(ctx.c, h, { nodeSignature: new Uint8Array(0) }), status.UNAUTHENTICATED);
  assert.match(details, /^BAD_SIGNATURE/);
  assert.not.ok(
    (await requests()).some((r) => r.deviceId === deviceIdFromIdentityKey(h.keys.identityKey)),
    "an unsigned Finish created a request",
  );
  const live = (await ctx.d.pairing.listCodes()).find((c) => c.id === code.id);
  assert.is(live?.state, "active", "the code was not used up by the unsigned Finish");
});

P("a code used by a successful pairing stays used after a daemon restart", async () => {
  const code = await mintCode(ctx.d);
  const parts = pinParts(code.code);
  await handshakeFinish(ctx.c, await handshakeStart(ctx.c, parts));
  assert.match(await expectStatus(handshakeStart(ctx.c, parts, nodeKeys(), {}, { reveal: false }), status.FAILED_PRECONDITION), /^CODE_USED/);
  await restart(); // only what is on disk survives
  const details = await expectStatus(handshakeStart(ctx.c, parts, nodeKeys(), {}, { reveal: false }), status.FAILED_PRECONDITION);
  assert.match(details, /^CODE_USED: pairing code has already been used/);
});

P("a request made before its device was revoked cannot be approved after the revocation", async () => {
  const keys = nodeKeys();
  const first = await handshakeFinish(ctx.c, await handshakeStart(ctx.c, pinParts((await mintCode(ctx.d)).code), keys));
  await admin(ctx.d, "ApproveRequest", { id: first.requestId, role: "" });
  // The same identity asks again (a new certificate, say) while its device is still good...
  const second = await handshakeFinish(ctx.c, await handshakeStart(ctx.c, pinParts((await mintCode(ctx.d)).code), keys));
  // ...and the admin revokes the device before deciding.
  const revoked = await admin<Device>(ctx.d, "RevokeDevice", { id: first.deviceId, reason: "stolen" });
  const err = await admin(ctx.d, "ApproveRequest", { id: second.requestId, role: "" }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(err, "a request from before the revocation was approved after it");
  assert.match(err.message, /revoked/);
  const after = await admin<Device>(ctx.d, "GetDevice", { id: first.deviceId });
  assert.ok(after.revokedAt > 0, "still revoked");
  assert.is(after.certificateFingerprint, revoked.certificateFingerprint, "no new certificate issued");
  const req = (await requests()).find((r) => r.id === second.requestId);
  assert.is(req?.state, "pending", "the refused approval changed nothing");
  assert.is(req?.certificateFingerprint, "");
});

P("the SDK with a wrong PIN stops at the daemon's key confirmation: the daemon never sees its Finish", async () => {
  const { pair } = await import("@tether/node");
  const finishes = async () =>
    (await admin<{ entries: { type: string; details: string }[] }>(ctx.d, "ListAudit", { since: 0, limit: 0 })).entries.filter(
      (e) => e.type === "handshake.failed" && (JSON.parse(e.details) as { rpc: string }).rpc === "Finish",
    ).length;
  const before = await finishes();
  const code = await mintCode(ctx.d);
  const p = wrongSecret(pinParts(code.code));
  const dir = tempDir();
  try {
    const e = await pair({ daemon: ctx.d.listen, pin: `${p.selector}${p.secret}`, name: "typo", stateDir: dir.path }).then(
      () => undefined,
      (x: Error & { code?: string }) => x,
    );
    assert.is(e?.code, "WRONG_CODE");
    assert.match(e?.message ?? "", /could not prove it knows this pairing code/);
  } finally {
    dir.remove();
  }
  assert.is(await finishes(), before, "the node went on to Finish after the daemon's confirmation failed");
});

P("Await signed 20 minutes ahead of the daemon's clock is refused (the window is ±10 minutes)", async () => {
  const code = await mintCode(ctx.d);
  const h = await handshakeStart(ctx.c, pinParts(code.code));
  const { requestId } = await handshakeFinish(ctx.c, h);
  const awaitOnce = (timestamp: number) =>
    new Promise<{ state: string }>((resolve, reject) => {
      const s = ctx.c.Await({ requestId, timestamp, signature: identitySign(h.keys.secretKey, awaitSignedMessage(requestId, timestamp)) }) as NodeJS.ReadableStream & {
        cancel(): void;
      };
      s.on("data", (m: { state: string }) => {
        resolve(m);
        s.cancel();
      });
      s.on("error", (e: Error & { code: number }) => (e.code === status.CANCELLED ? undefined : reject(e)));
    });
  for (const [minutes, word] of [
    [20, "ahead of"],
    [-20, "behind"],
    [10.5, "ahead of"],
  ] as const) {
    const details = await expectStatus(awaitOnce(now() + minutes * 60_000), status.UNAUTHENTICATED);
    assert.match(details, new RegExp(`^STALE_TIMESTAMP: signed timestamp is \\d+ s ${word} the daemon's clock`), `${minutes} min`);
  }
  // inside the window, ahead or behind, it is answered
  assert.is((await awaitOnce(now() + 9 * 60_000)).state, "pending");
  assert.is((await awaitOnce(now() - 9 * 60_000)).state, "pending");
});

P("Start refuses an expired code by the injected clock, even before the sweeper has deleted it", async () => {
  const code = await mintCode(ctx.d, "pin", 30);
  const parts = pinParts(code.code);
  clockOffset = 31_000;
  try {
    // Start alone: a later step failing (the session expires with the code) is not enough
    const details = await expectStatus(handshakeStart(ctx.c, parts, nodeKeys(), {}, { reveal: false }), status.FAILED_PRECONDITION);
    assert.match(details, /^CODE_EXPIRED: pairing code has expired/);
    const qr = await mintCode(ctx.d, "qr", 30);
    clockOffset += 31_000;
    const u = new URL(qr.code);
    const qrParts = { method: "qr" as const, selector: u.searchParams.get("c") as string, secret: new Uint8Array(Buffer.from(u.searchParams.get("s") as string, "base64url")) };
    assert.match(await expectStatus(handshakeStart(ctx.c, qrParts, nodeKeys(), {}, { reveal: false }), status.FAILED_PRECONDITION), /^CODE_EXPIRED/);
  } finally {
    clockOffset = 0;
  }
  // one second before expiry it is still answered
  const fresh = await mintCode(ctx.d, "pin", 30);
  clockOffset = 29_000;
  try {
    const h = await handshakeStart(ctx.c, pinParts(fresh.code), nodeKeys(), {}, { reveal: false });
    assert.ok(h.start.sessionId);
  } finally {
    clockOffset = 0;
  }
});

P.run();
