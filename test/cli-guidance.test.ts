/**
 * The CLI tells the user what is true and what works: `pair code` prints the command the node
 * runs to join (the daemon's advertised address, a `tether` that runs here); `dispatch` to an
 * offline device says at once that the job is queued and what will happen; `node run` and
 * `node pair` refused or unable to reach the daemon say why and the next step that works
 * (and following it works). A real daemon; the CLI in-process (its `main()`), real nodes.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { connect, refusedForGood } from "@tether/node";
import type { NodeConnection } from "@tether/node";
import type { StatusResponse } from "@tether/wire";
import { BIN, admin, cliInProcess, pairDevice, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const ctx = {} as { d: TestDaemon; tmp: ReturnType<typeof tempDir>; dataDir: string; advertise: string };
const G = suite("CLI guidance: join commands, offline dispatch, refusals");

G.before(async () => {
  ctx.tmp = tempDir();
  ctx.dataDir = join(ctx.tmp.path, "data");
  ctx.d = await startTestDaemon({ dataDir: ctx.dataDir });
  ctx.advertise = (await admin<StatusResponse>(ctx.d, "Status")).advertise;
});

G.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

type Run = { code: number; stdout: string; stderr: string };

/** The CLI in this process. `onErr` sees stderr as it is written. */
const tether = (args: string[], o: { env?: NodeJS.ProcessEnv; onErr?: (written: string, all: string) => void } = {}): Promise<Run> => cliInProcess(args, o);
const dd = () => ["--data-dir", ctx.dataDir];

/** A directory for $PATH holding the given programs (each an executable file, or a symbolic link to one). */
function pathDir(name: string, programs: Record<string, string | { symlinkTo: string }>): string {
  const dir = join(ctx.tmp.path, name);
  mkdirSync(dir);
  for (const [prog, what] of Object.entries(programs)) {
    if (typeof what === "string") writeFileSync(join(dir, prog), what, { mode: 0o755 });
    else symlinkSync(what.symlinkTo, join(dir, prog));
  }
  return dir;
}

G("pair code prints the node's join command with the advertised address; --json keeps its fields and adds join", async () => {
  // A `tether` on PATH: the command names it.
  const withTether = pathDir("bin-tether", { tether: "#!/bin/sh\nexit 0\n" });
  const pin = await tether(["pair", "code", "--method", "pin", ...dd()], { env: { PATH: withTether } });
  assert.is(pin.code, 0, pin.stderr);
  const code = /^PIN: (\d{3}-\d{4}-\d{4})$/m.exec(pin.stdout)?.[1];
  assert.ok(code, pin.stdout);
  assert.ok(pin.stdout.includes(`On the node, run:\n  tether node pair --daemon ${ctx.advertise} --pin ${code}\n`), pin.stdout);
  assert.not.match(pin.stdout, /--daemon HOST:PORT/);
  assert.match(pin.stdout, /reaches this machine only: for other machines, start the daemon with --advertise HOST:PORT/);

  // No `tether` on PATH (a checkout): the command that runs this checkout's bin/tether.
  const onlyNode = pathDir("bin-node", { node: { symlinkTo: process.execPath } });
  const j = await tether(["pair", "code", "--method", "pin", "--json", ...dd()], { env: { PATH: onlyNode } });
  assert.is(j.code, 0, j.stderr);
  const out = JSON.parse(j.stdout) as Record<string, string>;
  assert.equal(Object.keys(out), ["id", "method", "code", "expiresAt", "join"], "the fields before, then join");
  assert.match(out.id as string, /^code_[0-9a-f]{24}$/);
  assert.is(out.method, "pin");
  assert.ok(!Number.isNaN(Date.parse(out.expiresAt as string)));
  assert.is(out.join, `node ${BIN} node pair --daemon ${ctx.advertise} --pin ${out.code}`);

  // QR: the --uri form (the URI carries the address) and the --qr-image form with the PNG written.
  const png = join(ctx.tmp.path, "code.png");
  const qr = await tether(["pair", "code", "--method", "qr", "--png", png, ...dd()], { env: { PATH: withTether } });
  assert.is(qr.code, 0, qr.stderr);
  const uri = /^URI: (tether:\/\/\S+)$/m.exec(qr.stdout)?.[1] as string;
  assert.ok(uri.startsWith(`tether://${ctx.advertise}/pair?`), uri);
  assert.ok(qr.stdout.includes(`  tether node pair --uri '${uri}'\n`), qr.stdout);
  assert.ok(qr.stdout.includes(`  tether node pair --qr-image ${png}\n`), qr.stdout);
  const qj = JSON.parse((await tether(["pair", "code", "--method", "qr", "--png", png, "--json", ...dd()], { env: { PATH: withTether } })).stdout) as Record<string, string>;
  assert.equal(Object.keys(qj), ["id", "method", "code", "expiresAt", "join", "joinQrImage"]);
  assert.is(qj.join, `tether node pair --uri '${qj.code}'`);
  assert.is(qj.joinQrImage, `tether node pair --qr-image ${png}`);
  // Without --png, the human text still shows the image form, and says how to get an image.
  const noPng = await tether(["pair", "code", "--method", "qr", ...dd()], { env: { PATH: withTether } });
  assert.ok(noPng.stdout.includes("(a PNG from --png FILE, or a JPEG photo of it):\n  tether node pair --qr-image FILE\n"), noPng.stdout);
});

G("dispatch to an offline device says at once that the job is queued and what happens next; --no-wait and --json stay as they were", async () => {
  const dir = join(ctx.tmp.path, "offline");
  const dev = await pairDevice(ctx.d, dir, { name: "sleeper" });
  // Connected once (so it has announced echo), then gone.
  let conn: NodeConnection = connect(dir, { daemon: ctx.d.listen }).handle("echo", (x) => x);
  await conn.start();
  await conn.close();
  await waitFor(async () => !(await admin<{ online: boolean }>(ctx.d, "GetDevice", { id: dev })).online, "device offline");

  const started = Date.now();
  let toldAfter = -1;
  const running = tether(["dispatch", dev, "echo", "--input", '{"n":1}', "--timeout", "60", ...dd()], {
    onErr: (_, all) => {
      if (toldAfter < 0 && all.includes("is offline")) toldAfter = Date.now() - started;
    },
  });
  let finished = false;
  void running.then(() => (finished = true));
  await waitFor(() => toldAfter >= 0, "the offline notice", 10_000);
  assert.not.ok(finished, "the notice comes while the command waits");
  // The device comes back: the job is delivered, and the command prints its result.
  conn = connect(dir, { daemon: ctx.d.listen }).handle("echo", (x) => x);
  await conn.start();
  const r = await running;
  await conn.close();
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { n: 1 });
  const id = /job (job_[0-9a-f]+) is queued/.exec(r.stderr)?.[1];
  assert.ok(id, r.stderr);
  assert.match(r.stderr, new RegExp(`^tether: device ${dev} is offline; job ${id} is queued\\.\\n`));
  assert.match(r.stderr, /It is delivered when the device connects, or ends timed_out at \d{4}-\d\d-\d\dT[\d:.]+Z \(in (59|60) s\) if it does not\./);
  assert.match(r.stderr, new RegExp(`tether jobs cancel ${id}`));
  assert.match(r.stderr, new RegExp(`tether: device ${dev} connected; job ${id} is (delivered|running)\\n`));

  // --no-wait prints the job id as before, and nothing else; --json says nothing on stderr.
  const nw = await tether(["dispatch", dev, "echo", "--timeout", "5", "--no-wait", ...dd()]);
  assert.is(nw.code, 0, nw.stderr);
  assert.match(nw.stdout, /^queued job_[0-9a-f]+\n$/);
  assert.is(nw.stderr, "");
  const js = await tether(["dispatch", dev, "echo", "--timeout", "1", "--json", ...dd()]);
  assert.is(js.code, 11, js.stderr);
  assert.is((JSON.parse(js.stdout) as { state: string }).state, "timed_out");
  assert.is(js.stderr, "");
});

G("node run after a revocation: exit 8, an admin must run devices unrevoke; after that it says pair again, and pairing again works", async () => {
  const dir = join(ctx.tmp.path, "revoked");
  const dev = await pairDevice(ctx.d, dir, { name: "gone" });
  const run = () => tether(["node", "run", "--state-dir", dir, "--daemon", ctx.d.listen, "--capability", "echo=cat"]);
  const unrevoke = `an admin must run \`tether devices unrevoke ${dev}\``;

  // Revoked while connected: the stream ends.
  const live = run();
  await waitFor(async () => (await admin<{ online: boolean }>(ctx.d, "GetDevice", { id: dev })).online, "node run registered");
  await admin(ctx.d, "RevokeDevice", { id: dev, reason: "test" });
  const ended = await live;
  assert.is(ended.code, 8, ended.stderr);
  const last = (r: Run) => r.stderr.trimEnd().split("\n").pop() as string;
  assert.ok(last(ended).startsWith(`tether: an admin revoked this device (${dev})`), last(ended));
  assert.ok(last(ended).includes(unrevoke), last(ended));
  assert.not.match(ended.stderr, /Re-pair/);

  // Started again: the daemon knows the certificate as a revoked device's and says so.
  const again = await run();
  assert.is(again.code, 8, again.stderr);
  assert.match(again.stderr, new RegExp(`refused error=daemon refused this device \\(UNAUTHENTICATED\\): CERT_NOT_CURRENT: .*device ${dev} is revoked`));
  assert.ok(last(again).includes(unrevoke), last(again));

  // Pairing again is refused until the revocation is cleared, and says so.
  const pin = (await admin<{ code: string }>(ctx.d, "CreateCode", { method: "pin", ttlSeconds: 0 })).code;
  const p = await tether(["node", "pair", "--daemon", ctx.d.listen, "--pin", pin, "--name", "gone", "--state-dir", dir]);
  assert.is(p.code, 8, p.stderr);
  assert.ok(p.stderr.includes(`DEVICE_REVOKED: device ${dev} is revoked; before it can pair again, an admin must run \`tether devices unrevoke ${dev}\``), p.stderr);

  // The step works: unrevoke; now the old certificate is a replaced one, and the message says to pair again.
  assert.is((await tether(["devices", "unrevoke", dev, ...dd()])).code, 0);
  const replaced = await run();
  assert.is(replaced.code, 8, replaced.stderr);
  assert.match(last(replaced), /no longer accepts this device's certificate .*it was replaced.*Pair this state directory again with a new code/);
  await pairDevice(ctx.d, dir, { name: "gone" });
  const back = run();
  await waitFor(async () => (await admin<{ online: boolean }>(ctx.d, "GetDevice", { id: dev })).online, "node run registered after pairing again");
  await admin(ctx.d, "RevokeDevice", { id: dev, reason: "done" });
  assert.is((await back).code, 8);
});

G("node pair to a daemon that does not answer: exit 3, names the address, says nothing was paired and what to check", async () => {
  const r = await tether(["node", "pair", "--daemon", "127.0.0.1:1", "--pin", "123-4567-8901", "--name", "x", "--state-dir", join(ctx.tmp.path, "nowhere")]);
  assert.is(r.code, 3, r.stderr);
  assert.match(
    r.stderr,
    /^tether: cannot reach the daemon at 127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1\. Nothing was paired\. Check that `tether daemon` is running there/,
  );
  assert.not.match(r.stderr, /Resolution note/);
});

G("refusedForGood: an expired certificate, a daemon clock that differs, another process: the fact and the step", async () => {
  const certPem = readFileSync(join(ctx.tmp.path, "revoked", "cert.pem"), "utf8");
  const { X509Certificate } = await import("node:crypto");
  const notAfter = Date.parse(new X509Certificate(certPem).validTo);
  const base = { deviceId: "dev_x", certPem };
  const expired = refusedForGood({ ...base, code: status.UNAUTHENTICATED, details: "NO_CLIENT_CERT: no valid client certificate: …", now: notAfter + 1 });
  assert.is(expired.code, "EXPIRED");
  assert.match(
    expired.message,
    new RegExp(
      `^this device's certificate expired at ${new Date(notAfter).toISOString()}, and an expired certificate cannot be renewed: the device returns by its identity key instead: run \`tether node renew\` here`,
    ),
  );
  const skew = refusedForGood({ ...base, code: status.UNAUTHENTICATED, details: "CERT_EXPIRED: client certificate is expired or not yet valid; …", now: notAfter - 60_000 });
  assert.match(
    skew.message,
    /^the daemon's clock says this device's certificate is expired or not yet valid \(by this machine's clock it is valid until .*\): the two machines' clocks differ/,
  );
  const twice = refusedForGood({ ...base, code: status.ABORTED, details: "replaced by a newer connection of the same device" });
  assert.match(twice.message, /^another process connected as this device \(dev_x\).*run one `tether node run` per state directory/);
  // The daemon's own words stay available, as the cause.
  assert.match((twice.cause as Error).message, /^daemon refused this device \(ABORTED\): replaced by a newer connection/);
});

G.run();
