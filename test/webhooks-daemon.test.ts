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
