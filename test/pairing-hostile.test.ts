/**
 * Hostile inputs against a real daemon (TLS listener on port 0, LevelDB in a temp dir, admin
 * socket): malformed fields, wrong/expired/used/burned codes, forged signatures, replays,
 * races. Each refusal must carry the fitting gRPC status and leave nothing half-written.
 */
import { randomBytes } from "node:crypto";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { PAIR_PROTOCOL_VERSION, awaitSignedMessage, fromHex, identitySign, nodeSignedMessage, parsePairingUri, formatPairingUri } from "@tether/crypto";
import { pair, NodeError } from "@tether/node";
import type { PairRequest } from "@tether/wire";
import { admin, handshakeFinish, handshakeStart, mintCode, nodeKeys, pinParts, rawPairing, startTestDaemon, tempDir, call, expectStatus } from "./helpers.ts";
import type { RawPairing, TestDaemon } from "./helpers.ts";

let clockOffset = 0;
const now = () => Date.now() + clockOffset;
const ctx = {} as { d: TestDaemon; c: RawPairing; tmp: ReturnType<typeof tempDir> };
const T = suite("pairing: hostile inputs");

T.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data`, now, pairing: { requestTtlMs: 60_000 } });
  ctx.c = rawPairing(ctx.d.listen);
});

T.after(async () => {
  ctx.c.close();
  await ctx.d.stop();
  ctx.tmp.remove();
});

const requests = () => admin<{ requests: PairRequest[] }>(ctx.d, "ListRequests", { state: "" }).then((r) => r.requests);

T("malformed fields are refused with INVALID_ARGUMENT, cost no attempt and store nothing", async () => {
  const code = await mintCode(ctx.d);
  const parts = pinParts(code.code);
  const before = (await requests()).length;
  const k = nodeKeys();
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["identityKey 0 bytes", { identityKey: new Uint8Array(0) }, /identityKey.*32 bytes, got 0/],
    ["identityKey 31 bytes", { identityKey: new Uint8Array(31).fill(7) }, /identityKey.*32 bytes, got 31/],
    ["identityKey 33 bytes", { identityKey: new Uint8Array(33).fill(7) }, /identityKey.*32 bytes, got 33/],
    ["identityKey small order", { identityKey: fromHex("0100000000000000000000000000000000000000000000000000000000000000") }, /identityKey.*small-order/],
    ["identityKey not a point", { identityKey: fromHex("0200000000000000000000000000000000000000000000000000000000000000") }, /identityKey/],
    ["commitment 0 bytes", { commitment: new Uint8Array(0) }, /commitment.*64 bytes, got 0/],
    ["commitment 63 bytes", { commitment: new Uint8Array(63) }, /commitment.*64 bytes, got 63/],
    ["commitment 65 bytes", { commitment: new Uint8Array(65) }, /commitment.*64 bytes, got 65/],
    ["sid 15 bytes", { sid: new Uint8Array(15) }, /sid.*16 bytes, got 15/],
    ["tlsPublicKey empty", { tlsPublicKey: new Uint8Array(0) }, /tlsPublicKey/],
    ["tlsPublicKey garbage", { tlsPublicKey: new Uint8Array(91).fill(1) }, /tlsPublicKey/],
    ["tlsPublicKey oversized", { tlsPublicKey: new Uint8Array(4000).fill(1) }, /tlsPublicKey/],
    ["tlsPublicKey Ed25519", { tlsPublicKey: new Uint8Array(fromHex("302a300506032b6570032100" + "11".repeat(32))) }, /tlsPublicKey.*P-256/],
    ["name empty", { name: "" }, /name/],
    ["name 65 bytes", { name: "x".repeat(65) }, /name.*at most 64/],
    ["name with control char", { name: "evil\u001b[2Jname" }, /control/],
    ["role admin", { role: "admin" }, /role/],
    ["method bogus", { method: "sms" }, /method/],
    ["selector malformed", { selector: "12" }, /selector/],
  ];
  for (const [label, over, re] of cases) {
    const details = await handshakeStart(ctx.c, parts, k, over).then(
      () => "",
      (e: { code: number; details: string }) => {
        assert.is(e.code, status.INVALID_ARGUMENT, `${label}: ${e.details}`);
        return e.details;
      },
    );
    assert.ok(details, `${label} was accepted`);
    assert.match(details, re, label);
  }
  const live = (await ctx.d.pairing.listCodes()).find((c) => c.id === code.id);
  assert.is(live?.attempts, 0, "malformed requests must not count attempts");
  assert.is((await requests()).length, before);
});

T("bad shares in Reveal: wrong lengths, low-order and non-canonical points, a share that breaks the commitment", async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["ya 0 bytes", new Uint8Array(0), /ya.*32 bytes, got 0/],
    ["ya 31 bytes", new Uint8Array(31).fill(9), /ya.*32 bytes, got 31/],
    ["ya 33 bytes", new Uint8Array(33).fill(9), /ya.*32 bytes, got 33/],
    ["ya all-zero (low order)", new Uint8Array(32), /low-order|commitment/],
    ["ya = 1 (low order)", fromHex("0100000000000000000000000000000000000000000000000000000000000000"), /low-order|commitment/],
    ["ya = p (non-canonical)", fromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), /canonical/],
    ["ya with bit 255 set", fromHex("daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), /canonical/],
    ["ya not the committed one", fromHex("0900000000000000000000000000000000000000000000000000000000000000"), /commitment/],
  ];
  for (const [label, ya, re] of cases) {
    const code = await mintCode(ctx.d);
    const h = await handshakeStart(ctx.c, pinParts(code.code), nodeKeys(), {}, { reveal: false });
    const details = await expectStatus(call(ctx.c, "Reveal", { sessionId: h.start.sessionId, ya }), status.INVALID_ARGUMENT);
    assert.match(details, re, label);
    // the session is gone: no second try with the same commitment
    await expectStatus(call(ctx.c, "Reveal", { sessionId: h.start.sessionId, ya: h.ya }), status.NOT_FOUND);
  }
  // A low-order share that *is* committed to is refused as low-order.
  const code = await mintCode(ctx.d);
  const { shareCommitment } = await import("@tether/crypto");
  const sid = new Uint8Array(randomBytes(16));
  const zero = new Uint8Array(32);
  const k = nodeKeys();
  const start = await call<{ sessionId: string }>(ctx.c, "Start", {
    version: PAIR_PROTOCOL_VERSION,
    method: "pin",
    selector: pinParts(code.code).selector,
    sid,
    commitment: shareCommitment(sid, zero),
    identityKey: k.identityKey,
    tlsPublicKey: k.tlsPublicKey,
    name: "low-order",
    role: "node",
  });
  assert.match(await expectStatus(call(ctx.c, "Reveal", { sessionId: start.sessionId, ya: zero }), status.INVALID_ARGUMENT), /low-order/);
});

T("Finish before Reveal, and Reveal twice, are refused", async () => {
  const code = await mintCode(ctx.d);
  const h = await handshakeStart(ctx.c, pinParts(code.code), nodeKeys(), {}, { reveal: false });
  assert.match(await expectStatus(handshakeFinish(ctx.c, h), status.NOT_FOUND), /Reveal/);
  const code2 = await mintCode(ctx.d);
  const h2 = await handshakeStart(ctx.c, pinParts(code2.code));
  await expectStatus(call(ctx.c, "Reveal", { sessionId: h2.start.sessionId, ya: h2.ya }), status.NOT_FOUND);
});

T("an empty message, a version 1 node and an unknown version are refused", async () => {
  assert.match(await expectStatus(call(ctx.c, "Start", {}), status.INVALID_ARGUMENT), /version/);
  for (const version of [1, 3]) {
    const code = await mintCode(ctx.d);
    const details = await expectStatus(handshakeStart(ctx.c, pinParts(code.code), nodeKeys(), { version }), status.FAILED_PRECONDITION);
    assert.match(details, new RegExp(`version ${version} is not supported`));
  }
  // An id the daemon never issues is refused as malformed, before any lookup; a well-formed unknown one is not found.
  assert.match(await expectStatus(call(ctx.c, "Finish", {}), status.INVALID_ARGUMENT), /sessionId/);
  assert.match(await expectStatus(call(ctx.c, "Reveal", { sessionId: "hs_nope", ya: new Uint8Array(32) }), status.INVALID_ARGUMENT), /sessionId/);
  assert.match(await expectStatus(call(ctx.c, "Finish", { sessionId: `hs_${"0".repeat(24)}` }), status.NOT_FOUND), /session/);
});

T("a message over the size limit is refused with RESOURCE_EXHAUSTED", async () => {
  const code = await mintCode(ctx.d);
  await expectStatus(handshakeStart(ctx.c, pinParts(code.code), nodeKeys(), { name: "x".repeat(3 * 1024 * 1024) }), status.RESOURCE_EXHAUSTED);
});

T("unknown, wrong, expired and used codes", async () => {
  await expectStatus(handshakeStart(ctx.c, { method: "qr", selector: "00".repeat(8), secret: new Uint8Array(16) }), status.NOT_FOUND);

  // wrong PIN: the node sees the daemon's confirmation fail; the daemon sees the node's fail
  const code = await mintCode(ctx.d);
  const parts = pinParts(code.code);
  const wrong = { ...parts, secret: parts.secret === "13572468" ? "24681357" : "13572468" };
  const h = await handshakeStart(ctx.c, wrong);
  assert.not.equal(Buffer.from(h.session.daemonConfirmation).toString("hex"), Buffer.from(h.reveal.daemonConfirmation).toString("hex"));
  assert.match(await expectStatus(handshakeFinish(ctx.c, h), status.UNAUTHENTICATED), /WRONG_CODE/);

  // expired
  const short = await mintCode(ctx.d, "pin", 30);
  clockOffset += 31_000;
  try {
    assert.match(await expectStatus(handshakeStart(ctx.c, pinParts(short.code)), status.FAILED_PRECONDITION), /expired/);
  } finally {
    clockOffset -= 31_000;
  }

  // used
  const used = await mintCode(ctx.d);
  const ok = await handshakeStart(ctx.c, pinParts(used.code));
  await handshakeFinish(ctx.c, ok);
  assert.match(await expectStatus(handshakeStart(ctx.c, pinParts(used.code)), status.FAILED_PRECONDITION), /already been used/);
});

T("too many wrong PINs burn the code, and the counter survives a restart", async () => {
  const code = await mintCode(ctx.d);
  const parts = pinParts(code.code);
  const wrong = { ...parts, secret: parts.secret === "13572468" ? "24681357" : "13572468" };
  const max = ctx.d.pairing.config.maxCodeAttempts;
  assert.ok(max <= 10);
  for (let i = 0; i < max; i++) await handshakeStart(ctx.c, wrong, nodeKeys(), {}, { reveal: false }); // each Start is one counted guess
  assert.match(await expectStatus(handshakeStart(ctx.c, parts), status.FAILED_PRECONDITION), /burned/);

  // Restart the daemon on the same data directory: the burned state is on disk.
  ctx.c.close();
  await ctx.d.close();
  ctx.d = await startTestDaemon({ dataDir: ctx.d.dataDir, now, pairing: { requestTtlMs: 60_000 } });
  ctx.c = rawPairing(ctx.d.listen);
  assert.match(await expectStatus(handshakeStart(ctx.c, parts), status.FAILED_PRECONDITION), /burned/);
});

T("the attempt counter is on disk before the daemon answers Start", async () => {
  const code = await mintCode(ctx.d);
  await handshakeStart(ctx.c, pinParts(code.code));
  ctx.c.close();
  await ctx.d.close(); // no Finish, no sweep: only what Start wrote
  ctx.d = await startTestDaemon({ dataDir: ctx.d.dataDir, now, pairing: { requestTtlMs: 60_000 } });
  ctx.c = rawPairing(ctx.d.listen);
  const rec = (await ctx.d.pairing.listCodes()).find((c) => c.id === code.id);
  assert.is(rec?.attempts, 1);
});

T("a signature over a different transcript, or by another key, is refused", async () => {
  const code = await mintCode(ctx.d);
  const h = await handshakeStart(ctx.c, pinParts(code.code));
  const otherTh = new Uint8Array(randomBytes(64));
  const forged = identitySign(h.keys.secretKey, nodeSignedMessage(otherTh));
  assert.match(await expectStatus(handshakeFinish(ctx.c, h, { nodeSignature: forged }), status.UNAUTHENTICATED), /signature/);

  const code2 = await mintCode(ctx.d);
  const h2 = await handshakeStart(ctx.c, pinParts(code2.code));
  const mallory = nodeKeys();
  const byOther = identitySign(mallory.secretKey, nodeSignedMessage(h2.session.th));
  assert.match(await expectStatus(handshakeFinish(ctx.c, h2, { nodeSignature: byOther }), status.UNAUTHENTICATED), /signature/);
  const ids = [h, h2].map((x) => Buffer.from(x.keys.identityKey).toString("hex"));
  const { deviceIdFromIdentityKey } = await import("@tether/crypto");
  const forgedDevices = [h, h2].map((x) => deviceIdFromIdentityKey(x.keys.identityKey));
  assert.is(ids.length, 2);
  assert.not.ok(
    (await requests()).some((r) => forgedDevices.includes(r.deviceId)),
    "a forged Finish created a request",
  );
});

T("replayed messages fail: a Finish replayed, or moved into a new session", async () => {
  const code = await mintCode(ctx.d);
  const parts = pinParts(code.code);
  const h1 = await handshakeStart(ctx.c, parts);
  const n = (await requests()).length;
  // Session 2 on the same code by an attacker replaying the node's Start and Reveal messages.
  const replayedStart = await call<{ sessionId: string }>(ctx.c, "Start", h1.request);
  await call(ctx.c, "Reveal", { sessionId: replayedStart.sessionId, ya: h1.ya });
  // The node's Finish from session 1 replayed into session 2: the MAC is bound to session 1.
  const fin1 = { nodeConfirmation: h1.session.nodeConfirmation, nodeSignature: identitySign(h1.keys.secretKey, nodeSignedMessage(h1.session.th)) };
  assert.match(await expectStatus(call(ctx.c, "Finish", { sessionId: replayedStart.sessionId, ...fin1 }), status.UNAUTHENTICATED), /WRONG_CODE/);
  await handshakeFinish(ctx.c, h1); // the honest node still completes
  assert.is((await requests()).length, n + 1);
  // And the same Finish again: the session is one-shot.
  assert.match(await expectStatus(handshakeFinish(ctx.c, h1), status.NOT_FOUND), /session/);
  assert.is((await requests()).length, n + 1);
});

T("several nodes racing for one code: exactly one succeeds", async () => {
  const code = await mintCode(ctx.d);
  const parts = pinParts(code.code);
  const racers = await Promise.all([0, 1, 2, 3].map(() => handshakeStart(ctx.c, parts)));
  const results = await Promise.allSettled(racers.map((h) => handshakeFinish(ctx.c, h)));
  const won = results.filter((r) => r.status === "fulfilled");
  assert.is(won.length, 1);
  for (const r of results) {
    if (r.status === "rejected") {
      assert.is((r.reason as { code: number }).code, status.FAILED_PRECONDITION);
      assert.match((r.reason as { details: string }).details, /already been used/);
    }
  }
  const mine = (await requests()).filter((r) => r.method === "pin" && r.id === (won[0] as PromiseFulfilledResult<{ requestId: string }>).value.requestId);
  assert.is(mine.length, 1);
});

T("an approve racing a reject: exactly one wins, and a rejected request has no device", async () => {
  for (let round = 0; round < 3; round++) {
    const code = await mintCode(ctx.d);
    const h = await handshakeStart(ctx.c, pinParts(code.code));
    const { requestId, deviceId } = await handshakeFinish(ctx.c, h);
    const [a, r] = await Promise.allSettled([
      admin<PairRequest>(ctx.d, "ApproveRequest", { id: requestId, role: "" }),
      admin<PairRequest>(ctx.d, "RejectRequest", { id: requestId, reason: "race" }),
    ]);
    const wins = [a, r].filter((x) => x.status === "fulfilled");
    assert.is(wins.length, 1, "exactly one decision");
    const loser = [a, r].find((x) => x.status === "rejected") as PromiseRejectedResult;
    assert.match((loser.reason as Error).message, /already (approved|rejected)/);
    const devices = (await admin<{ devices: { id: string }[] }>(ctx.d, "ListDevices")).devices;
    assert.is(
      devices.some((d) => d.id === deviceId),
      a.status === "fulfilled",
    );
  }
});

T("approving twice, or approving a rejected request, is an error and issues nothing", async () => {
  const code = await mintCode(ctx.d);
  const h = await handshakeStart(ctx.c, pinParts(code.code));
  const { requestId } = await handshakeFinish(ctx.c, h);
  const first = await admin<PairRequest>(ctx.d, "ApproveRequest", { id: requestId, role: "orchestrator" });
  assert.is(first.role, "orchestrator");
  await admin(ctx.d, "ApproveRequest", { id: requestId, role: "" }).then(
    () => assert.unreachable("second approve succeeded"),
    (e: Error) => assert.match(e.message, /already approved/),
  );
  const again = (await requests()).find((r) => r.id === requestId);
  assert.is(again?.certificateFingerprint, first.certificateFingerprint, "no second certificate");
  await admin(ctx.d, "ApproveRequest", { id: "req_nope", role: "" }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /no pairing request/),
  );
});

T("Await needs the identity key's signature and a fresh timestamp", async () => {
  const code = await mintCode(ctx.d);
  const h = await handshakeStart(ctx.c, pinParts(code.code));
  const { requestId } = await handshakeFinish(ctx.c, h);
  const awaitOnce = (req: object) =>
    new Promise<{ state: string }>((resolve, reject) => {
      const s = ctx.c.Await(req) as NodeJS.ReadableStream & { cancel(): void };
      s.on("data", (m: { state: string }) => {
        resolve(m);
        s.cancel();
      });
      s.on("error", (e: Error & { code: number }) => (e.code === status.CANCELLED ? undefined : reject(e)));
    });
  const ts = now();
  const mallory = nodeKeys();
  await expectStatus(awaitOnce({ requestId, timestamp: ts, signature: identitySign(mallory.secretKey, awaitSignedMessage(requestId, ts)) }), status.UNAUTHENTICATED);
  await expectStatus(awaitOnce({ requestId, timestamp: ts, signature: new Uint8Array(0) }), status.UNAUTHENTICATED);
  const old = ts - 10 * 60_000;
  await expectStatus(awaitOnce({ requestId, timestamp: old, signature: identitySign(h.keys.secretKey, awaitSignedMessage(requestId, old)) }), status.UNAUTHENTICATED);
  const unknown = `req_${"0".repeat(24)}`;
  await expectStatus(awaitOnce({ requestId: unknown, timestamp: ts, signature: identitySign(h.keys.secretKey, awaitSignedMessage(unknown, ts)) }), status.NOT_FOUND);
  await expectStatus(
    awaitOnce({ requestId: "req_unknown", timestamp: ts, signature: identitySign(h.keys.secretKey, awaitSignedMessage("req_unknown", ts)) }),
    status.INVALID_ARGUMENT,
  );
  const ok = await awaitOnce({ requestId, timestamp: ts, signature: identitySign(h.keys.secretKey, awaitSignedMessage(requestId, ts)) });
  assert.is(ok.state, "pending");
});

T("the SDK: wrong PIN, tampered QR fingerprint, rejection and expiry each fail clearly", async () => {
  const dir = tempDir();
  try {
    const code = await mintCode(ctx.d);
    const p = pinParts(code.code);
    const wrongPin = `${p.selector}-${p.secret === "13572468" ? "2468-1357" : "1357-2468"}`;
    await pair({ daemon: ctx.d.listen, pin: wrongPin, name: "n", stateDir: `${dir.path}/a` }).then(
      () => assert.unreachable(),
      (e: NodeError) => assert.is(e.code, "WRONG_CODE"),
    );

    const qr = await mintCode(ctx.d, "qr");
    const u = parsePairingUri(qr.code);
    const tampered = formatPairingUri({ ...u, caFingerprint: "ab".repeat(32) });
    await pair({ uri: tampered, name: "n", stateDir: `${dir.path}/b` }).then(
      () => assert.unreachable(),
      (e: NodeError) => assert.is(e.code, "CA_PIN_MISMATCH"),
    );

    const expiredUri = formatPairingUri({ ...u, expiresAt: Date.now() - 1000 });
    await pair({ uri: expiredUri, name: "n", stateDir: `${dir.path}/b` }).then(
      () => assert.unreachable(),
      (e: NodeError) => assert.is(e.code, "CODE_EXPIRED"),
    );

    const c2 = await mintCode(ctx.d);
    let requestId = "";
    const rejected = pair({ daemon: ctx.d.listen, pin: c2.code, name: "n", stateDir: `${dir.path}/c`, onVerificationCode: (_v, i) => (requestId = i.requestId) });
    const waiting = rejected.catch((e: unknown) => e);
    let settled: unknown;
    void waiting.then((e) => (settled = e));
    while (!requestId && settled === undefined) await new Promise((r) => setTimeout(r, 20));
    assert.ok(requestId, `pairing failed before the decision: ${String(settled)}`);
    await admin(ctx.d, "RejectRequest", { id: requestId, reason: "unknown machine" });
    const err = (await waiting) as NodeError;
    assert.is(err.code, "REJECTED");
    assert.match(err.message, /unknown machine\. Nothing was paired; to try again, ask the admin for a new code$/);
  } finally {
    dir.remove();
  }
});

T("Start is rate-limited per address", async () => {
  const d = await startTestDaemon({ startRateLimit: { burst: 3, perSecond: 0.001 } });
  const c = rawPairing(d.listen);
  try {
    const code = await mintCode(d);
    const results = [];
    for (let i = 0; i < 5; i++) {
      results.push(
        await handshakeStart(c, { ...pinParts(code.code), secret: "00000000" }, nodeKeys(), {}, { reveal: false }).then(
          () => 0,
          (e: { code: number }) => e.code,
        ),
      );
    }
    assert.equal(results, [0, 0, 0, status.RESOURCE_EXHAUSTED, status.RESOURCE_EXHAUSTED]);
    const rec = (await d.pairing.listCodes()).find((x) => x.id === code.id);
    assert.is(rec?.attempts, 3, "refused Starts cost the code nothing");
  } finally {
    c.close();
    await d.stop();
  }
});

T("no secret reaches the logs", async () => {
  const code = await mintCode(ctx.d);
  const qr = await mintCode(ctx.d, "qr");
  const secretOfQr = new URL(qr.code).searchParams.get("s") as string;
  await handshakeStart(ctx.c, pinParts(code.code));
  const all = ctx.d.logs.join("");
  assert.ok(all.includes(code.id), "the code's id is logged");
  assert.not.ok(all.includes(pinParts(code.code).secret as string), "PIN secret in logs");
  assert.not.ok(all.includes(code.code), "PIN in logs");
  assert.not.ok(all.includes(secretOfQr), "QR secret in logs");
});

T.run();
