/**
 * The webhook events time makes (docs/webhooks.md): `device.offline` after a silence and
 * `certificate.expiring` near a certificate's end. The rule alone under a fake clock, then a
 * real daemon process with a receiver on loopback: a node that drops is reported once per
 * silence (twice for two drops within a minute), a certificate once, and a restart sends
 * neither again; every message verifies with the Standard Webhooks library.
 */
import { createServer } from "node:http";
import type { Server } from "node:http";
import { randomBytes } from "node:crypto";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Webhook } from "standardwebhooks";
import { certFingerprint } from "@tether/ca";
import { connect } from "@tether/node";
import { watchEvents, watchIntervalMs } from "@tether/webhooks";
import type { WatchMark, Watched } from "@tether/webhooks";
import { cli, cliPair, startDaemonWith, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { Ready, spawnCli } from "./helpers.ts";

const U = suite("webhook watch: the rule");
const T0 = 1_800_000_000_000;
const policy = { offlineAfterMs: 5 * 60_000, expiringBeforeMs: 6 * 3600_000 };
const dev = (o: Partial<Watched> = {}): Watched => ({
  id: "dev_a",
  name: "a",
  online: false,
  lastSeen: T0,
  revoked: false,
  certificateFingerprint: "f1",
  certificateNotAfter: T0 + 24 * 3600_000,
  ...o,
});

/** Run passes like the daemon does: keep the marks each pass returns. */
function passes(marks: Map<string, WatchMark>, devices: Watched[], now: number) {
  const r = watchEvents(devices, marks, now, policy);
  for (const m of r.marks) marks.set(m.id, m);
  return r.events.map((e) => e.type);
}

U("device.offline once the silence reaches the limit, once per silence; never for the online, the revoked, or one that never connected", () => {
  const marks = new Map<string, WatchMark>();
  assert.equal(passes(marks, [dev()], T0 + policy.offlineAfterMs - 1), [], "not yet");
  assert.equal(passes(marks, [dev()], T0 + policy.offlineAfterMs), ["device.offline"]);
  assert.equal(passes(marks, [dev()], T0 + policy.offlineAfterMs + 60_000), [], "once per silence");
  const back = T0 + 3_600_000;
  assert.equal(passes(marks, [dev({ online: true, lastSeen: back })], back + policy.offlineAfterMs * 2), [], "online");
  assert.equal(passes(marks, [dev({ lastSeen: back })], back + policy.offlineAfterMs), ["device.offline"], "a new silence");
  assert.equal(passes(marks, [dev({ lastSeen: back - 1000 })], back + policy.offlineAfterMs * 3), [], "an older silence (a restart's stored lastSeen) is not news");
  assert.equal(passes(new Map(), [dev({ revoked: true })], T0 + 10 * policy.offlineAfterMs), []);
  assert.equal(passes(new Map(), [dev({ lastSeen: 0 })], T0 + 10 * policy.offlineAfterMs), []);
  const e = watchEvents([dev()], new Map(), T0 + 400_000, policy).events[0];
  assert.equal(e?.data, { device: "dev_a", name: "a", lastSeen: new Date(T0).toISOString(), silentForMs: 400_000 });
});

U("certificate.expiring once per certificate when what is left reaches the limit, certificate.expired once when it ends; a renewal is watched afresh", () => {
  const marks = new Map<string, WatchMark>();
  const online = { online: true };
  const end = T0 + 24 * 3600_000;
  assert.equal(passes(marks, [dev(online)], end - policy.expiringBeforeMs - 1), []);
  assert.equal(passes(marks, [dev(online)], end - policy.expiringBeforeMs), ["certificate.expiring"]);
  assert.equal(passes(marks, [dev(online)], end - 1), [], "once per certificate");
  assert.equal(passes(marks, [dev(online)], end), ["certificate.expired"], "then once more when it has expired");
  assert.equal(passes(marks, [dev(online)], end + 60_000), []);
  assert.equal(passes(marks, [dev({ ...online, certificateFingerprint: "f2", certificateNotAfter: end + 24 * 3600_000 })], end + 1), [], "renewed: not near its end");
  const both = watchEvents([dev({ lastSeen: T0 })], new Map(), end + 5, policy);
  assert.equal(
    both.events.map((x) => x.type),
    ["device.offline", "certificate.expired"],
  );
  assert.equal(both.marks, [{ id: "dev_a", offlineSince: T0, expiredCertificate: "f1" }], "one mark holds both");
  assert.is(both.events[1]?.data.expiredForMs, 5);
  assert.is(watchIntervalMs(policy), 30_000);
  assert.is(watchIntervalMs({ ...policy, offlineAfterMs: 2_000 }), 1_000);
});

U.run();

type Got = { body: string; headers: Record<string, string>; type: string; data: Record<string, unknown> };
const SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const ctx = {} as { tmp: ReturnType<typeof tempDir>; server: Server; url: string; got: Got[]; secretFile: string; data: string; d: ReturnType<typeof spawnCli>; ready: Ready };
const D = suite("webhook watch: a real daemon");

const start = async () => {
  const r = await startDaemonWith([
    "--data-dir",
    ctx.data,
    "--listen",
    "127.0.0.1:0",
    "--cert-lifetime",
    "10m",
    "--webhook",
    ctx.url,
    "--webhook-secret-file",
    ctx.secretFile,
    "--webhook-offline-after",
    "2s",
    "--webhook-expiring-before",
    "10m",
  ]);
  ctx.d = r.d;
  ctx.ready = r.ready;
};

D.before(async () => {
  ctx.tmp = tempDir("tether-whw-");
  ctx.got = [];
  ctx.server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      const parsed = JSON.parse(body) as { type: string; data: Record<string, unknown> };
      ctx.got.push({ body, headers: req.headers as Record<string, string>, type: parsed.type, data: parsed.data });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => ctx.server.listen(0, "127.0.0.1", () => r()));
  ctx.url = `http://127.0.0.1:${(ctx.server.address() as { port: number }).port}/hook`;
  ctx.secretFile = join(ctx.tmp.path, "secret");
  writeFileSync(ctx.secretFile, SECRET, { mode: 0o600 });
  ctx.data = join(ctx.tmp.path, "data");
  await start();
});
D.after(async () => {
  if (ctx.d) await stopDaemonProcess(ctx.d);
  await new Promise((r) => ctx.server.close(r));
  ctx.tmp?.remove();
});

const of = (type: string, device: string) => ctx.got.filter((g) => g.type === type && g.data.device === device);
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

D("a node that drops is device.offline once per silence, its certificate certificate.expiring once, and a restart repeats neither", async () => {
  const code = (JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data])).stdout) as { code: string }).code;
  const stateDir = join(ctx.tmp.path, "node");
  const { result } = await cliPair(ctx.data, ["--daemon", ctx.ready.listen, "--pin", code, "--name", "watched"], stateDir);
  const device = result.deviceId;
  const fingerprint = certFingerprint(new X509Certificate(readFileSync(join(stateDir, "cert.pem"))).raw);

  // A 10-minute certificate with 10 minutes' warning: due at once, and sent once.
  const expiring = await waitFor(() => of("certificate.expiring", device)[0], "certificate.expiring", 10_000);
  assert.is(expiring.data.certificate, fingerprint);
  assert.ok(Number(expiring.data.expiresInMs) > 0 && Number(expiring.data.expiresInMs) <= 10 * 60_000);
  // Paired but never connected: not "offline".
  await settle(3_000);
  assert.is(of("device.offline", device).length, 0, "a device that never connected is not reported offline");
  assert.is(of("certificate.expiring", device).length, 1, "once per certificate");

  // Online, then dropped: one device.offline after 2 s of silence.
  const session = async () => {
    const c = connect(stateDir, { daemon: ctx.ready.listen, autoRenew: false });
    c.handle("noop", () => null);
    await c.start();
    await settle(300);
    await c.close();
    return Date.now();
  };
  const dropped = await session();
  const first = await waitFor(() => of("device.offline", device)[0], "device.offline", 10_000);
  assert.ok(Number(first.data.silentForMs) >= 2_000, `silent for the limit at least (${String(first.data.silentForMs)} ms)`);
  assert.ok(Date.parse(String(first.data.lastSeen)) <= dropped && Date.parse(String(first.data.lastSeen)) > dropped - 5_000, "lastSeen is when it was last heard");
  await settle(3_000);
  assert.is(of("device.offline", device).length, 1, "once per silence");
  // A second drop within the minute the stored lastSeen is not rewritten: a second event.
  await session();
  await waitFor(() => of("device.offline", device).length === 2, "a second device.offline for the second silence", 10_000);
  const [a, b] = of("device.offline", device);
  assert.ok(Date.parse(String(b?.data.lastSeen)) > Date.parse(String(a?.data.lastSeen)), "each names its own silence");

  // A restart: the marks are in the store, so neither event comes again.
  await stopDaemonProcess(ctx.d);
  const before = ctx.got.length;
  await start();
  await settle(4_000);
  const again = ctx.got.slice(before).filter((g) => g.data.device === device && (g.type === "device.offline" || g.type === "certificate.expiring"));
  assert.equal(
    again.map((g) => g.type),
    [],
    "nothing repeated after the restart",
  );

  for (const g of ctx.got)
    new Webhook(SECRET).verify(g.body, {
      "webhook-id": g.headers["webhook-id"] ?? "",
      "webhook-timestamp": g.headers["webhook-timestamp"] ?? "",
      "webhook-signature": g.headers["webhook-signature"] ?? "",
    });
});

D("the watch settings are refused out of range, or without a receiver", async () => {
  for (const [args, words] of [
    [
      ["--webhook", ctx.url, "--webhook-secret-file", ctx.secretFile, "--webhook-offline-after", "500ms"],
      /--webhook-offline-after must be between 1s and 30d|--webhook-offline-after/,
    ],
    [["--webhook", ctx.url, "--webhook-secret-file", ctx.secretFile, "--webhook-expiring-before", "30s"], /--webhook-expiring-before must be between 1m and 365d/],
    [["--webhook-offline-after", "5m"], /--webhook-offline-after is for --webhook URL/],
  ] as const) {
    const r = await cli(["daemon", "--data-dir", join(ctx.tmp.path, "never"), "--listen", "127.0.0.1:0", ...args]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, words);
  }
});

D.run();
