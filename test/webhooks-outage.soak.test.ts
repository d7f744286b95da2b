/**
 * A receiver that answers 500 for a whole minute, then 200, gets every event once it recovers
 * (issue 13; docs/webhooks.md, "Delivery"), at full length, against a real daemon process with
 * its default backoff: events made all through the outage (pairings, an approval each, a
 * revocation) are each retried, none is given up on, and after the recovery each arrives,
 * verified, in the order it happened, under the id of its first attempt. Pairing and approval
 * go on meanwhile at their usual speed: the outage is never on their path. A soak file: it runs
 * in the background of `npm test` (test/run.js), about two minutes.
 */
import { createServer } from "node:http";
import type { Server } from "node:http";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Webhook } from "standardwebhooks";
import { cli, cliPair, startDaemonWith, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { Ready, spawnCli } from "./helpers.ts";

const OUTAGE_MS = 60_000;
const SECRET = `whsec_${randomBytes(24).toString("base64")}`;
type Attempt = { id: string; status: number; at: number; body: string; headers: Record<string, string> };
const ctx = {} as { tmp: ReturnType<typeof tempDir>; server: Server; attempts: Attempt[]; recoverAt: number; d: ReturnType<typeof spawnCli>; ready: Ready; data: string };
const O = suite("webhooks: a receiver down for a minute");

O.before(async () => {
  ctx.tmp = tempDir("tether-who-");
  ctx.attempts = [];
  ctx.recoverAt = Number.POSITIVE_INFINITY;
  ctx.server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      const status = Date.now() < ctx.recoverAt ? 500 : 200;
      ctx.attempts.push({ id: String(req.headers["webhook-id"]), status, at: Date.now(), body, headers: req.headers as Record<string, string> });
      res.writeHead(status).end(status === 500 ? "down for maintenance" : "");
    });
  });
  await new Promise<void>((r) => ctx.server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(ctx.server.address() as { port: number }).port}/hook`;
  const secretFile = join(ctx.tmp.path, "secret");
  writeFileSync(secretFile, SECRET, { mode: 0o600 });
  ctx.data = join(ctx.tmp.path, "data");
  const r = await startDaemonWith(["--data-dir", ctx.data, "--listen", "127.0.0.1:0", "--webhook", url, "--webhook-secret-file", secretFile]);
  ctx.d = r.d;
  ctx.ready = r.ready;
});
O.after(async () => {
  if (ctx.d) await stopDaemonProcess(ctx.d);
  await new Promise((r) => ctx.server.close(r));
  ctx.tmp?.remove();
});

type Message = { id: string; type: string; createdAt: number; deliveries: { state: string; attempts: number }[] };
const deliveries = async () => JSON.parse((await cli(["webhooks", "deliveries", "--json", "--limit", "1000", "--data-dir", ctx.data])).stdout) as Message[];

O("500 for a minute, then 200: every event made during the outage arrives, in order, once each as delivered, none given up on", async () => {
  const began = Date.now();
  ctx.recoverAt = began + OUTAGE_MS;
  const devices: string[] = [];
  // Events all through the minute: a pairing (request.pending, request.approved) every ~15 s.
  for (let i = 0; i < 4; i++) {
    const t0 = Date.now();
    const code = (JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data])).stdout) as { code: string }).code;
    const { result } = await cliPair(ctx.data, ["--daemon", ctx.ready.listen, "--pin", code, "--name", `outage-${i}`], join(ctx.tmp.path, `n${i}`));
    devices.push(result.deviceId);
    assert.ok(Date.now() - t0 < 15_000, `a pairing during the outage takes its usual time (${Date.now() - t0} ms)`);
    await new Promise((r) => setTimeout(r, Math.max(0, began + (i + 1) * 13_000 - Date.now())));
  }
  const revoke = await cli(["devices", "revoke", devices[0] as string, "--reason", "outage test", "--json", "--data-dir", ctx.data]);
  assert.is(revoke.code, 0, revoke.stderr);
  assert.ok(Date.now() < ctx.recoverAt, "every event was made while the receiver was down");
  const made = (await deliveries()).reverse(); // oldest first
  assert.is(made.length, 9, "4 × (request.pending, request.approved) and device.revoked");
  assert.ok(
    ctx.attempts.every((a) => a.status === 500),
    "only refusals so far",
  );
  assert.ok(ctx.attempts.length > 0, "the receiver was tried during the outage");

  // After the recovery every message is delivered; none failed.
  const done = await waitFor(
    async () => {
      const now = await deliveries();
      return now.every((m) => m.deliveries.every((d) => d.state === "delivered")) ? now : undefined;
    },
    "every message delivered after the recovery",
    240_000,
  );
  assert.is(done.length, 9);
  const ok = ctx.attempts.filter((a) => a.status === 200);
  const firstOk = new Map<string, Attempt>();
  for (const a of ok) if (!firstOk.has(a.id)) firstOk.set(a.id, a);
  assert.equal(
    [...firstOk.keys()],
    made.map((m) => m.id),
    "each arrived, in the order it happened",
  );
  for (const a of firstOk.values()) {
    assert.ok(a.at >= ctx.recoverAt);
    new Webhook(SECRET).verify(a.body, {
      "webhook-id": a.headers["webhook-id"] ?? "",
      "webhook-timestamp": a.headers["webhook-timestamp"] ?? "",
      "webhook-signature": a.headers["webhook-signature"] ?? "",
    });
  }
  const types = made.map((m) => m.type);
  assert.equal(types.filter((t) => t === "request.pending").length, 4);
  assert.equal(types.filter((t) => t === "request.approved").length, 4);
  assert.is(types[8], "device.revoked");
  const retried = made.filter((m) => (m.deliveries[0]?.attempts ?? 0) > 1).length;
  console.log(
    `# outage ${OUTAGE_MS} ms: ${ctx.attempts.length - ok.length} refused attempts, ${retried}/9 messages retried, all delivered ${(Math.max(...[...firstOk.values()].map((a) => a.at)) - ctx.recoverAt) / 1000} s after the recovery`,
  );
  const list = JSON.parse((await cli(["webhooks", "list", "--json", "--data-dir", ctx.data])).stdout) as { pending: number; delivered: number; failed: number }[];
  assert.equal([list[0]?.pending, list[0]?.delivered, list[0]?.failed], [0, 9, 0]);
});

O.run();
