/**
 * @tether/webhooks on a real LevelDB store and a real HTTP receiver on loopback: the outbox
 * record is written in the very batch of the change it reports (AuditLog's `alongside`), or
 * not at all; the sender signs as the Standard Webhooks specification says, checked with the
 * specification's own JavaScript verifier (`standardwebhooks`, an independent HMAC); a receiver
 * that answers 500 for a while, then 200, gets every event, in order, with the same message
 * id on every attempt; messages written before a crash are sent after it; a receiver that
 * never recovers is given up on after the retry window, and the log names it without its
 * secret. (The daemon's wiring, its flags and `tether webhooks`, come next.)
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server } from "node:http";
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Webhook } from "standardwebhooks";
import { AuditEvent, isConflict } from "@tether/base";
import type { Op, Repository } from "@tether/base";
import { AUDIT_TABLES, AuditLog } from "@tether/audit";
import type { AuditEntry, AuditTables } from "@tether/audit";
import { Store } from "@tether/store";
import { OutboxIds, WEBHOOK_TABLES, WebhookSender, endpoint, eventsOf, outboxRecords, parseSecret } from "@tether/webhooks";
import type { Endpoint, OutboxRecord, WebhookTables } from "@tether/webhooks";
import { tempDir } from "./helpers.ts";

type Tables = AuditTables & WebhookTables & { requests: { id: string; state: string; deviceId: string; name: string } };
const SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const key = parseSecret(SECRET);
const rand = (n: number) => new Uint8Array(randomBytes(n));

type Received = { id: string; timestamp: string; signature: string; body: string; status: number };

/** A receiver on loopback; `answer` decides each status. */
async function receiver(answer: (n: number) => number): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString("utf8")));
    req.on("end", () => {
      const status = answer(got.length);
      got.push({ id: String(req.headers["webhook-id"]), timestamp: String(req.headers["webhook-timestamp"]), signature: String(req.headers["webhook-signature"]), body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/hooks/tether`, got, close: () => new Promise((r) => server.close(() => r())) };
}

async function openStore(dir: string, endpoints: Endpoint[]) {
  const ids = new OutboxIds(rand);
  const store = await Store.open<Tables>(dir, ["requests", ...AUDIT_TABLES, ...WEBHOOK_TABLES]);
  const audit = new AuditLog<Tables>(store, Date.now, {
    alongside: (ops, entries: readonly AuditEntry[]) =>
      outboxRecords(eventsOf(ops, entries), endpoints, Date.now(), ids).map((value) => ({ table: "webhookOutbox", type: "put", value }) as Op<Tables>),
  });
  return { store, audit };
}

const logs: string[] = [];
const log = {
  debug: () => {},
  info: (m: string, f?: object) => logs.push(`${m} ${JSON.stringify(f)}`),
  warn: (m: string, f?: object) => logs.push(`${m} ${JSON.stringify(f)}`),
  error: () => {},
};

test("the outbox record is written in the change's own batch, or not at all", async () => {
  const tmp = tempDir("tether-wh-");
  const ep = endpoint("http://127.0.0.1:1/x");
  const { store, audit } = await openStore(tmp.path + "/s", [ep]);
  try {
    const req = { id: "req_1", state: "pending", deviceId: "dev_1", name: "n1" };
    await audit.batch([{ table: "requests", type: "put", value: req }], {
      audit: [{ type: AuditEvent.RequestCreated, actor: "dev_1", subject: "req_1", details: { name: "n1" } }],
    });
    let out = await store.list("webhookOutbox");
    assert.is(out.length, 1);
    const body = JSON.parse((out[0] as OutboxRecord).body) as { type: string; data: object };
    assert.is(body.type, "request.pending");
    assert.equal(body.data, { request: "req_1", device: "dev_1", name: "n1" });
    // A refused batch (its expectation no longer holds) writes neither the change nor the event.
    const refused = await audit
      .batch([{ table: "requests", type: "put", value: { ...req, state: "expired" } }], { expect: [{ table: "requests", id: "req_1", value: undefined }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(isConflict(refused), String(refused));
    out = await store.list("webhookOutbox");
    assert.is(out.length, 1, "no outbox record for a change that did not happen");
    // An event read off the writes alone (an expiry has no audit entry).
    await audit.batch([{ table: "requests", type: "put", value: { ...req, state: "expired" } }]);
    out = await store.list("webhookOutbox");
    assert.equal(out.map((r) => r.type).sort(), ["request.expired", "request.pending"]);
  } finally {
    await store.close();
    tmp.remove();
  }
});

test("500 for a while, then 200: every event arrives, in order, signed, with one message id across its attempts", async () => {
  const tmp = tempDir("tether-wh-");
  let failUntil = Date.now() + 1_500;
  const rx = await receiver(() => (Date.now() < failUntil ? 500 : 200));
  const ep = endpoint(rx.url);
  const { store, audit } = await openStore(tmp.path + "/s", [ep]);
  const sender = new WebhookSender({
    repo: store,
    endpoints: [ep],
    key,
    now: Date.now,
    random: Math.random,
    log,
    retry: { firstRetryMs: 50, maxRetryMs: 400, retryForMs: 60_000, timeoutMs: 2_000 },
  });
  try {
    for (let i = 1; i <= 5; i++) {
      await audit.batch([], { audit: [{ type: AuditEvent.DeviceRevoked, actor: "admin", subject: `dev_${i}`, details: { reason: `r${i}` } }] });
    }
    sender.start();
    const until = Date.now() + 20_000;
    while (rx.got.filter((g) => g.status === 200).length < 5 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const ok = rx.got.filter((g) => g.status === 200);
    assert.is(ok.length, 5, `delivered ${ok.length}: ${JSON.stringify(rx.got.map((g) => g.status))}`);
    assert.ok(
      rx.got.some((g) => g.status === 500),
      "the receiver refused some first",
    );
    assert.equal(
      ok.map((g) => (JSON.parse(g.body) as { data: { device: string } }).data.device),
      ["dev_1", "dev_2", "dev_3", "dev_4", "dev_5"],
      "in order",
    );
    // Checked by the specification's own verifier, as a receiver would.
    const wh = new Webhook(SECRET);
    for (const g of ok) wh.verify(g.body, { "webhook-id": g.id, "webhook-timestamp": g.timestamp, "webhook-signature": g.signature });
    assert.throws(() =>
      wh.verify(ok[0]!.body.replace("dev_1", "dev_9"), { "webhook-id": ok[0]!.id, "webhook-timestamp": ok[0]!.timestamp, "webhook-signature": ok[0]!.signature }),
    );
    // The failed attempts of the first message carried its id too.
    const firstId = ok[0]!.id;
    assert.ok(rx.got.filter((g) => g.id === firstId).length >= 2, "retried under the same id");
    // The sender records each delivery once the receiver's answer is in: the last may lag its 200 a little.
    let states: (string | undefined)[] = [];
    for (let i = 0; i < 100; i++) {
      states = (await store.list("webhookOutbox")).map((r) => r.deliveries[ep.id]?.state);
      if (states.every((x) => x === "delivered")) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(states, ["delivered", "delivered", "delivered", "delivered", "delivered"]);
    failUntil = 0;
  } finally {
    await sender.stop();
    await store.close();
    await rx.close();
    tmp.remove();
  }
});

test("messages written before a crash are sent after it; a receiver that never recovers is given up on, and the log has no secret", async () => {
  const tmp = tempDir("tether-wh-");
  const rx = await receiver(() => 200);
  const ep = endpoint(rx.url);
  // Written, never sent: the "daemon" stops before its sender runs.
  let opened = await openStore(tmp.path + "/s", [ep]);
  await opened.audit.batch([], { audit: [{ type: AuditEvent.RequestRejected, actor: "admin", subject: "req_9", details: { device: "dev_9" } }] });
  await opened.store.close();
  opened = await openStore(tmp.path + "/s", [ep]);
  const sender = new WebhookSender({
    repo: opened.store,
    endpoints: [ep],
    key,
    now: Date.now,
    random: Math.random,
    log,
    retry: { firstRetryMs: 20, maxRetryMs: 50, retryForMs: 500, timeoutMs: 1_000 },
  });
  const dead = await receiver(() => 503);
  const deadEp = endpoint(`${dead.url.replace("http://", "http://user:hunter2@")}`);
  const giveUp = new WebhookSender({
    repo: opened.store,
    endpoints: [deadEp],
    key,
    now: Date.now,
    random: Math.random,
    log,
    retry: { firstRetryMs: 20, maxRetryMs: 50, retryForMs: 500, timeoutMs: 1_000 },
  });
  try {
    await sender.pass();
    assert.is(rx.got.length, 1);
    assert.is((JSON.parse(rx.got[0]!.body) as { type: string }).type, "request.rejected");
    // A message for the dead endpoint, retried until the window closes.
    await opened.audit.batch([], { audit: [{ type: AuditEvent.DeviceRevoked, actor: "admin", subject: "dev_10", details: {} }] });
    const rec = (await opened.store.list("webhookOutbox")).find((r) => r.type === "device.revoked")!;
    await opened.store.batch([
      { table: "webhookOutbox", type: "put", value: { ...rec, deliveries: { ...rec.deliveries, [deadEp.id]: { state: "pending", attempts: 0, nextAt: 0 } } } },
    ]);
    const until = Date.now() + 5_000;
    let state = "";
    while (Date.now() < until) {
      await giveUp.pass();
      state = (await opened.store.get("webhookOutbox", rec.id))?.deliveries[deadEp.id]?.state ?? "";
      if (state === "failed") break;
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.is(state, "failed");
    assert.ok(dead.got.length >= 2, `tried ${dead.got.length} times`);
    const all = logs.join("\n");
    assert.match(all, /gave up on a message/);
    assert.not.match(all, /hunter2/, "the URL's password is not logged");
    assert.not.ok(all.includes(SECRET.slice(6)), "the secret is not logged");
  } finally {
    await sender.stop();
    await giveUp.stop();
    await opened.store.close();
    await rx.close();
    await dead.close();
    tmp.remove();
  }
});

test("a pass reads what it holds as pending and what it was told of, and the whole outbox only once a minute", async () => {
  const tmp = tempDir("tether-wh-");
  const rx = await receiver(() => 200);
  const ep = endpoint(rx.url);
  const { store, audit } = await openStore(tmp.path + "/s", [ep]);
  let offset = 0;
  const lists: string[] = [];
  const counted: Repository<WebhookTables> = {
    get: (t, id) => store.get(t, id),
    scan: (t, o) => store.scan(t, o),
    batch: (ops, o) => store.batch(ops as never, o),
    list: (t) => {
      lists.push(t);
      return store.list(t);
    },
  };
  const sender = new WebhookSender({ repo: counted, endpoints: [ep], key, now: () => Date.now() + offset, random: Math.random, log });
  try {
    // 200 messages delivered and kept (7 days) make the outbox big; each later pass must not read them.
    for (let i = 0; i < 200; i++) await audit.batch([], { audit: [{ type: AuditEvent.DeviceRevoked, actor: "admin", subject: `dev_${i}`, details: {} }] });
    await sender.pass();
    assert.is(rx.got.length, 200);
    assert.is(lists.length, 1, "the first pass reads the whole outbox");
    // A new message, told of: the next pass sends it without listing the outbox.
    await audit.batch([], { audit: [{ type: AuditEvent.DeviceRevoked, actor: "admin", subject: "dev_told", details: {} }] });
    const told = (await store.list("webhookOutbox")).find((r) => r.body.includes("dev_told"));
    assert.ok(told);
    sender.track([told.id, "msg_not_written_yet"]);
    await sender.pass();
    assert.is(rx.got.length, 201);
    assert.is(lists.length, 1, "no full read within the minute");
    // One nobody told it of: found at the next full read, a minute on.
    await audit.batch([], { audit: [{ type: AuditEvent.DeviceRevoked, actor: "admin", subject: "dev_untold", details: {} }] });
    await sender.pass();
    assert.is(rx.got.length, 201, "not seen within the minute");
    offset += 60_000;
    await sender.pass();
    assert.is(rx.got.length, 202, "seen at the full read");
    assert.is(lists.length, 2);
  } finally {
    await sender.stop();
    await rx.close();
    await store.close();
    tmp.remove();
  }
});

test("message ids sort in the order of the events, within one millisecond and across a clock stepped back", () => {
  const ids = new OutboxIds(rand);
  const got = [ids.next(1000), ids.next(1000), ids.next(1000), ids.next(999), ids.next(1001)];
  assert.equal([...got].sort(), got);
  assert.is(new Set(got).size, got.length);
});

test("a secret that is not whsec_ and base64 of 16 bytes or more is refused, without echoing it", () => {
  for (const bad of ["", "abc", "whsec_", "whsec_!!!!", `whsec_${Buffer.alloc(8).toString("base64")}`]) {
    try {
      parseSecret(bad);
      assert.unreachable(`accepted ${JSON.stringify(bad)}`);
    } catch (e) {
      if ((e as Error).name === "Assertion") throw e;
      if (bad.length > 6) assert.not.ok((e as Error).message.includes(bad.slice(6)), "the message echoes the secret");
    }
  }
});

test.run();
