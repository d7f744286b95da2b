/**
 * Lifetimes and storage with a real daemon and an injected clock: code TTL bounds, pending
 * requests that expire (and the waiting node is told), and codes kept only as hashes on disk.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createSealer, derivePrs, fromHex, toHex } from "@tether/crypto";
import { pair } from "@tether/node";
import type { NodeError } from "@tether/node";
import { PAIRING_TABLES } from "@tether/pairing";
import type { PairingTables } from "@tether/pairing";
import { Store } from "@tether/store";
import type { PairRequest } from "@tether/wire";
import { admin, mintCode, pinParts, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

let offset = 0;
const now = () => Date.now() + offset;
const ctx = {} as { d: TestDaemon; tmp: ReturnType<typeof tempDir> };
const L = suite("pairing: lifetimes and storage");

L.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data`, now });
});
L.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

L("code TTL: default 5 minutes, at most 1 hour, bad values refused", async () => {
  const c = await mintCode(ctx.d, "pin");
  assert.ok(Math.abs(c.expiresAt - (now() + 300_000)) < 5_000);
  const long = await mintCode(ctx.d, "qr", 3600);
  assert.ok(Math.abs(long.expiresAt - (now() + 3_600_000)) < 5_000);
  await mintCode(ctx.d, "pin", 3601).then(
    () => assert.unreachable("3601 s accepted"),
    (e: Error) => assert.match(e.message, /ttl must be between/),
  );
  await admin(ctx.d, "CreateCode", { method: "sms", ttlSeconds: 0 }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /method/),
  );
});

L("pending requests last 15 minutes; the sweeper expires them after that", async () => {
  const code = await mintCode(ctx.d);
  let requestId = "";
  const stop = new AbortController();
  const node = pair({
    daemon: ctx.d.listen,
    pin: code.code,
    name: "late",
    stateDir: `${ctx.tmp.path}/late`,
    signal: stop.signal,
    onVerificationCode: (_c, i) => (requestId = i.requestId),
  }).catch((e: unknown) => e as NodeError);
  await waitFor(() => requestId, "pending request");
  const pending = (await admin<{ requests: PairRequest[] }>(ctx.d, "ListRequests", { state: "pending" })).requests;
  const r = pending.find((x) => x.id === requestId);
  assert.ok(r);
  assert.ok(Math.abs(r.expiresAt - r.createdAt - 15 * 60_000) < 1000);
  stop.abort();
  assert.is(((await node) as NodeError).code, "EXPIRED", "an aborted wait ends as EXPIRED on the node");

  offset += 15 * 60_000 + 1000;
  try {
    await ctx.d.pairing.sweep();
    const expired = (await admin<{ requests: PairRequest[] }>(ctx.d, "ListRequests", { state: "expired" })).requests;
    assert.ok(expired.some((x) => x.id === requestId));
  } finally {
    offset -= 15 * 60_000 + 1000;
  }
  await admin(ctx.d, "ApproveRequest", { id: requestId, role: "" }).then(
    () => assert.unreachable("approved an expired request"),
    (e: Error & { code?: number }) => assert.match(e.message, /already expired/),
  );
  const devices = (await admin<{ devices: { name: string }[] }>(ctx.d, "ListDevices")).devices;
  assert.not.ok(
    devices.some((d) => d.name === "late"),
    "no device for an expired request",
  );
});

L("a waiting node is told at once when its request expires", async () => {
  const d = await startTestDaemon({ pairing: { requestTtlMs: 1500 } });
  try {
    const code = await mintCode(d);
    const started = Date.now();
    const err = (await pair({ daemon: d.listen, pin: code.code, name: "slow-admin", stateDir: `${ctx.tmp.path}/slow` }).catch((e: unknown) => e)) as NodeError;
    assert.is(err.code, "EXPIRED", err.message);
    assert.match(err.message, /expired before an admin approved it\. Nothing was paired; run this again with a new code/);
    assert.ok(Date.now() - started < 10_000, "told promptly, not after a poll interval");
  } finally {
    await d.stop();
  }
});

L("codes are stored only sealed: neither the code nor its PRS is in the store, and a sealed PRS opens only with ca/seal.key and its own record", async () => {
  const pin = await mintCode(ctx.d, "pin");
  const qr = await mintCode(ctx.d, "qr");
  const { selector, secret: secretPin } = pinParts(pin.code);
  const secretQr = new URL(qr.code).searchParams.get("s") as string;
  const dataDir = ctx.d.dataDir;
  await ctx.d.close();
  const store = await Store.open<PairingTables>(`${dataDir}/store`, PAIRING_TABLES);
  try {
    const codes = await store.list("codes");
    const raw = JSON.stringify(codes);
    assert.ok(codes.some((c) => c.id === pin.id) && codes.some((c) => c.id === qr.id));
    assert.not.ok(raw.includes(secretPin), "PIN secret stored");
    assert.not.ok(raw.includes(secretQr), "QR secret stored (base64url)");
    assert.not.ok(raw.includes(Buffer.from(secretQr, "base64url").toString("hex")), "QR secret stored (hex)");
    const prs = toHex(derivePrs("pin", selector, secretPin));
    assert.not.ok(raw.includes(prs), "PRS stored in the clear");
    // the seal key opens it for this record only; another key or another record does not
    const key = fromHex((JSON.parse(readFileSync(`${dataDir}/ca/seal.key`, "utf8")) as { aes256gcmKey: string }).aes256gcmKey);
    const rec = codes.find((c) => c.id === pin.id) as PairingTables["codes"];
    const sealer = createSealer(key, (n) => new Uint8Array(randomBytes(n)));
    assert.is(toHex(sealer.open(fromHex(rec.prsSealed as string), rec.id)), prs);
    assert.throws(() => sealer.open(fromHex(rec.prsSealed as string), qr.id), /does not open/);
    assert.throws(() => createSealer(new Uint8Array(32), (n) => new Uint8Array(randomBytes(n))).open(fromHex(rec.prsSealed as string), rec.id), /does not open/);
    assert.is((statSync(`${dataDir}/ca/seal.key`).mode & 0o777).toString(8), "600");
  } finally {
    await store.close();
  }
  ctx.d = await startTestDaemon({ dataDir, now });
});

L.run();
