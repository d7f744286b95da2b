/**
 * The daemon's webhooks (docs/webhooks.md), through the real CLI against a real daemon process
 * and a receiver on loopback: a pairing sends request.pending and request.approved, each signed
 * so the Standard Webhooks verifier accepts it; a revocation whose delivery the receiver
 * refused survives a kill -9 of the daemon and is delivered by the restarted one, under the
 * same message id; bad webhook settings are refused before anything starts.
 */
import { createServer } from "node:http";
import type { Server } from "node:http";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Webhook } from "standardwebhooks";
import { cli, cliPair, spawnCli, startDaemonWith, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { Ready } from "./helpers.ts";

type Got = { id: string; headers: Record<string, string>; body: string; status: number; type: string; data: Record<string, unknown> };
const SECRET = `whsec_${randomBytes(24).toString("base64")}`;

const ctx = {} as {
  tmp: ReturnType<typeof tempDir>;
  server: Server;
  url: string;
  got: Got[];
  refuse: boolean;
  secretFile: string;
  data: string;
  d: ReturnType<typeof spawnCli>;
  ready: Ready;
};
const W = suite("webhooks from the daemon");

const start = async () => {
  const r = await startDaemonWith(["--data-dir", ctx.data, "--listen", "127.0.0.1:0", "--webhook", ctx.url, "--webhook-secret-file", ctx.secretFile]);
  ctx.d = r.d;
  ctx.ready = r.ready;
};

W.before(async () => {
  ctx.tmp = tempDir("tether-whd-");
  ctx.got = [];
  ctx.refuse = false;
  ctx.server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString("utf8")));
    req.on("end", () => {
      const status = ctx.refuse ? 500 : 200;
      const parsed = JSON.parse(body) as { type: string; data: Record<string, unknown> };
      ctx.got.push({ id: String(req.headers["webhook-id"]), headers: req.headers as Record<string, string>, body, status, type: parsed.type, data: parsed.data });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => ctx.server.listen(0, "127.0.0.1", () => r()));
  ctx.url = `http://127.0.0.1:${(ctx.server.address() as { port: number }).port}/tether`;
  ctx.secretFile = join(ctx.tmp.path, "webhook.secret");
  writeFileSync(ctx.secretFile, `${SECRET}\n`, { mode: 0o600 });
  ctx.data = join(ctx.tmp.path, "data");
  await start();
});
W.after(async () => {
  if (ctx.d) await stopDaemonProcess(ctx.d);
  await new Promise((r) => ctx.server.close(r));
  ctx.tmp?.remove();
});

const verified = (g: Got) =>
  new Webhook(SECRET).verify(g.body, {
    "webhook-id": g.headers["webhook-id"] ?? "",
    "webhook-timestamp": g.headers["webhook-timestamp"] ?? "",
    "webhook-signature": g.headers["webhook-signature"] ?? "",
  });

W("a pairing sends request.pending, then request.approved, each signed for the standard verifier", async () => {
  const code = (JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data])).stdout) as { code: string }).code;
  const { result, requestId } = await cliPair(ctx.data, ["--daemon", ctx.ready.listen, "--pin", code, "--name", "hooked"], join(ctx.tmp.path, "node1"));
  const pending = await waitFor(() => ctx.got.find((g) => g.type === "request.pending" && g.data.request === requestId), "request.pending delivered", 15_000);
  const approved = await waitFor(() => ctx.got.find((g) => g.type === "request.approved" && g.data.request === requestId), "request.approved delivered", 15_000);
  assert.is(pending.data.device, result.deviceId);
  assert.is(pending.data.name, "hooked");
  assert.is(approved.data.by, "admin");
  verified(pending);
  verified(approved);
  assert.is.not(pending.id, approved.id);
  assert.ok(ctx.got.indexOf(pending) < ctx.got.indexOf(approved), "in order");
});

W("kill -9 between the change and its delivery: the restarted daemon delivers it, under the same message id", async () => {
  const devices = JSON.parse((await cli(["devices", "list", "--json", "--data-dir", ctx.data])).stdout) as { id: string }[];
  const victim = devices[0]?.id as string;
  ctx.refuse = true;
  const r = await cli(["devices", "revoke", victim, "--reason", "lost", "--json", "--data-dir", ctx.data]);
  assert.is(r.code, 0, r.stderr);
  const refused = await waitFor(() => ctx.got.find((g) => g.type === "device.revoked" && g.data.device === victim), "a first, refused attempt", 15_000);
  assert.is(refused.status, 500);
  ctx.d.child.kill("SIGKILL");
  await ctx.d.exited;
  ctx.refuse = false;
  await start();
  const delivered = await waitFor(() => ctx.got.find((g) => g.type === "device.revoked" && g.status === 200), "device.revoked delivered after the restart", 30_000);
  assert.is(delivered.id, refused.id, "the same message id: a receiver can drop a duplicate");
  assert.is(delivered.data.reason, "lost");
  verified(delivered);
});

W("tether webhooks list, deliveries and redeliver: counts per receiver, each message's delivery, and a message sent again under its id", async () => {
  type Listed = { id: string; url: string; pending: number; delivered: number; failed: number }[];
  // The sender records a delivery once the receiver's answer is in: wait until nothing is pending.
  const listed = await waitFor(
    async () => {
      const l = JSON.parse((await cli(["webhooks", "list", "--json", "--data-dir", ctx.data])).stdout) as Listed;
      return l[0]?.pending === 0 ? l : undefined;
    },
    "no message pending",
    10_000,
  );
  assert.is(listed.length, 1);
  assert.is(listed[0]?.url, ctx.url);
  assert.ok((listed[0]?.delivered ?? 0) >= 3, JSON.stringify(listed));
  assert.is(listed[0]?.failed, 0);
  const all = JSON.parse((await cli(["webhooks", "deliveries", "--json", "--data-dir", ctx.data])).stdout) as {
    id: string;
    type: string;
    deliveries: { state: string; attempts: number; lastStatus: number }[];
  }[];
  const revoked = all.find((m) => m.type === "device.revoked");
  assert.ok(revoked, JSON.stringify(all));
  assert.is(revoked.deliveries[0]?.state, "delivered");
  assert.ok((revoked.deliveries[0]?.attempts ?? 0) >= 2, "refused once, then delivered");
  assert.is(all.map((m) => m.id).join(), [...all.map((m) => m.id)].sort().reverse().join(), "newest first");
  const before = ctx.got.filter((g) => g.id === revoked.id).length;
  const again = await cli(["webhooks", "redeliver", revoked.id, "--json", "--data-dir", ctx.data]);
  assert.is(again.code, 0, again.stderr);
  await waitFor(
    () => (ctx.got.filter((g) => g.id === revoked.id).length > before && ctx.got.filter((g) => g.id === revoked.id).at(-1)?.status === 200 ? true : undefined),
    "the message sent again, under its id",
    15_000,
  );
  // Bad and unknown ids.
  const bad = await cli(["webhooks", "redeliver", "nope", "--data-dir", ctx.data]);
  assert.is(bad.code, 2, bad.stderr);
  const unknown = await cli(["webhooks", "redeliver", `msg_${"0".repeat(14)}${"f".repeat(12)}`, "--data-dir", ctx.data]);
  assert.is(unknown.code, 4, unknown.stderr);
  const badState = await cli(["webhooks", "deliveries", "--state", "lost", "--data-dir", ctx.data]);
  assert.is(badState.code, 2, badState.stderr);
  // A daemon without receivers: an empty list, and nothing to redeliver to (exit 5).
  const plainData = join(ctx.tmp.path, "plain");
  const plain = await startDaemonWith(["--data-dir", plainData, "--listen", "127.0.0.1:0"]);
  try {
    const none = await cli(["webhooks", "list", "--json", "--data-dir", plainData]);
    assert.equal(JSON.parse(none.stdout), []);
    const off = await cli(["webhooks", "redeliver", revoked.id, "--data-dir", plainData]);
    assert.is(off.code, 5, off.stderr);
    assert.match(off.stderr, /no webhook receivers are configured/);
  } finally {
    await stopDaemonProcess(plain.d);
  }
});

W("bad webhook settings are refused before anything starts", async () => {
  const other = join(ctx.tmp.path, "other");
  const loose = join(ctx.tmp.path, "loose.secret");
  writeFileSync(loose, `${SECRET}\n`, { mode: 0o644 });
  const bad = join(ctx.tmp.path, "bad.secret");
  writeFileSync(bad, "not-a-secret\n", { mode: 0o600 });
  for (const [args, code, why] of [
    [["--webhook", ctx.url], 2, /needs --webhook-secret-file/],
    [["--webhook", "ftp://example.com/x", "--webhook-secret-file", ctx.secretFile], 2, /must be an http:\/\/ or https:\/\/ URL/],
    [["--webhook-secret-file", ctx.secretFile], 2, /give the receivers too/],
    [["--webhook", ctx.url, "--webhook-secret-file", loose], 1, /readable by others/],
    [["--webhook", ctx.url, "--webhook-secret-file", bad], 1, /starts with whsec_/],
  ] as const) {
    const r = await cli(["daemon", "--data-dir", other, "--listen", "127.0.0.1:0", ...args], { timeoutMs: 20_000 });
    assert.is(r.code, code, `${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, why);
    assert.not.ok(r.stderr.includes(SECRET.slice(6)), "the secret is not printed");
  }
});

W.run();
