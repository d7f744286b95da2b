/**
 * End to end through the real binary: `tether daemon` as a child process on port 0 in a temp
 * dir, admin commands over its socket, `tether node pair` with a PIN and with a QR image, and
 * the issued certificates checked by openssl.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { cli, cliPair, spawnCli, startDaemonProcess, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { Ready } from "./helpers.ts";

const ctx = {} as { tmp: ReturnType<typeof tempDir>; data: string; daemon: ReturnType<typeof spawnCli>; ready: Ready };
const E = suite("e2e: daemon, CLI and node");

E.before(async () => {
  ctx.tmp = tempDir();
  ctx.data = join(ctx.tmp.path, "data");
  const { d, ready } = await startDaemonProcess(ctx.data, ["--cert-lifetime", "2h"]);
  ctx.daemon = d;
  ctx.ready = ready;
});

E.after(async () => {
  if (ctx.daemon.child.exitCode === null) await stopDaemonProcess(ctx.daemon);
  ctx.tmp.remove();
});

const dd = () => ["--data-dir", ctx.data];
const json = <T>(s: string): T => JSON.parse(s) as T;

function openssl(args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Pair through the CLI, checking what the admin sees against what the node printed. */
async function pairAndApprove(args: string[], stateDir: string, approveArgs: string[] = []) {
  const r = await cliPair(ctx.data, args, stateDir, approveArgs);
  assert.ok(r.listed, "request is listed as pending");
  assert.is(r.listed.verificationCode, r.verificationCode, "admin and node derive the same verification code");
  assert.match(r.listed.keyFingerprint, /^[0-9a-f]{64}$/);
  return r;
}

/** Run `fn` over `items`, `n` at a time (CLI processes are CPU-bound at start: a few share the cores well). */
async function inBatches<T, R>(items: readonly T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += n) out.push(...(await Promise.all(items.slice(i, i + n).map(fn))));
  return out;
}

E("the daemon created its data directory with private permissions", () => {
  assert.is(statSync(ctx.data).mode & 0o777, 0o700);
  assert.is(statSync(ctx.ready.adminSocket).mode & 0o777, 0o600);
  assert.is(statSync(join(ctx.data, "ca", "ca.key")).mode & 0o777, 0o600);
  assert.match(ctx.ready.caFingerprint, /^[0-9a-f]{64}$/);
});

E("pair a node with a PIN; its certificate passes openssl verify -x509_strict", async () => {
  const code = await cli(["pair", "code", "--method", "pin", "--json", ...dd()]);
  assert.is(code.code, 0, code.stderr);
  const c = json<{ id: string; method: string; code: string; expiresAt: string; join: string }>(code.stdout);
  assert.equal(Object.keys(c).sort(), ["code", "expiresAt", "id", "join", "method"]);
  assert.ok(c.join.endsWith(` node pair --daemon ${ctx.ready.advertise} --pin ${c.code}`), c.join);
  assert.is(c.method, "pin");
  assert.match(c.code, /^\d{3}-\d{4}-\d{4}$/);
  const ttl = Date.parse(c.expiresAt) - Date.now();
  assert.ok(ttl > 290_000 && ttl <= 300_000, `default TTL is 5 minutes, got ${ttl}`);

  const state = join(ctx.tmp.path, "node-pin");
  const { result } = await pairAndApprove(["--daemon", ctx.ready.listen, "--pin", c.code, "--name", "pin-node"], state);
  assert.match(result.deviceId, /^dev_[a-z2-7]{26}$/);
  assert.is(result.role, "node");
  assert.is(result.caFingerprint, ctx.ready.caFingerprint, "the node learned the daemon's CA");
  const life = Date.parse(result.certificateNotAfter) - Date.now();
  assert.ok(life > 2 * 3_600_000 - 120_000 && life <= 2 * 3_600_000, `--cert-lifetime 2h gives a 2 h certificate, got ${life} ms`);
  for (const f of ["identity.json", "tls.key"]) assert.is(statSync(join(state, f)).mode & 0o777, 0o600, f);
  const verify = openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", join(state, "ca.pem"), join(state, "cert.pem")]);
  assert.match(verify, /cert\.pem: OK/);
  const text = openssl(["x509", "-in", join(state, "cert.pem"), "-noout", "-text"]);
  assert.match(text, new RegExp(`URI:urn:tether:device:${result.deviceId}`));
  assert.match(text, /TLS Web Client Authentication/);
  assert.not.match(text, /TLS Web Server Authentication/);
  // the certificate is for the key the node made, which never left it
  const certKey = openssl(["x509", "-in", join(state, "cert.pem"), "-noout", "-pubkey"]);
  const nodeKey = openssl(["pkey", "-in", join(state, "tls.key"), "-pubout"]);
  assert.is(certKey, nodeKey);
  // the daemon's CA file is the same CA
  assert.is(readFileSync(join(state, "ca.pem"), "utf8"), readFileSync(join(ctx.data, "ca", "ca.pem"), "utf8"));

  const devices = await cli(["devices", "list", "--json", ...dd()]);
  assert.ok(json<{ id: string }[]>(devices.stdout).some((d) => d.id === result.deviceId));
  const show = await cli(["devices", "show", result.deviceId, "--json", ...dd()]);
  assert.is(show.code, 0, show.stderr);
  assert.is(json<{ name: string }>(show.stdout).name, "pin-node");
});

E("pair a node with a QR code written as PNG and read back from the image", async () => {
  const png = join(ctx.tmp.path, "code.png");
  const svg = join(ctx.tmp.path, "code.svg");
  const code = await cli(["pair", "code", "--method", "qr", "--ttl", "600", "--png", png, "--svg", svg, "--json", ...dd()]);
  assert.is(code.code, 0, code.stderr);
  const c = json<{ code: string; expiresAt: string }>(code.stdout);
  const uri = new URL(c.code);
  assert.is(uri.protocol, "tether:");
  assert.is(uri.host, ctx.ready.advertise);
  assert.is(uri.searchParams.get("fp"), ctx.ready.caFingerprint);
  assert.is(Buffer.from(uri.searchParams.get("s") as string, "base64url").length, 16, "128-bit secret");
  assert.is(Number(uri.searchParams.get("exp")) * 1000, Math.floor(Date.parse(c.expiresAt) / 1000) * 1000);
  assert.is(statSync(png).mode & 0o777, 0o600);
  assert.match(readFileSync(svg, "utf8"), /<svg/);

  const human = await cli(["pair", "code", "--method", "qr", ...dd()]);
  assert.is(human.code, 0);
  assert.match(human.stdout, /▄|█/, "renders a QR code in the terminal");

  const state = join(ctx.tmp.path, "node-qr");
  const { result } = await pairAndApprove(["--qr-image", png, "--name", "qr-node", "--role", "orchestrator"], state);
  assert.is(result.role, "orchestrator");
  const verify = openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", join(state, "ca.pem"), join(state, "cert.pem")]);
  assert.match(verify, /OK/);
});

E("a rejected node exits 6 with a message that says so; a used code exits 5 naming the reason", async () => {
  const c = json<{ code: string }>((await cli(["pair", "code", "--method", "pin", "--json", ...dd()])).stdout);
  // the PIN comes on stdin ("--pin -"), so it never shows in the process list
  const node = spawnCli(["node", "pair", "--daemon", ctx.ready.listen, "--pin", "-", "--state-dir", join(ctx.tmp.path, "node-rej"), "--json"], {}, `${c.code}\n`);
  const waiting = await waitFor(
    () =>
      node
        .err()
        .split("\n")
        .find((l) => l.includes("awaiting_approval")),
    "node waiting",
  );
  const { requestId } = json<{ requestId: string }>(waiting);
  const rej = await cli(["pair", "reject", requestId, "--reason", "not ours", ...dd()]);
  assert.is(rej.code, 0, rej.stderr);
  assert.is(await node.exited, 6);
  assert.match(node.err(), /rejected/);
  assert.match(node.err(), /not ours/);
  assert.not.ok(existsSync(join(ctx.tmp.path, "node-rej", "cert.pem")), "no certificate stored");

  const again = await cli(["node", "pair", "--daemon", ctx.ready.listen, "--pin", c.code, "--state-dir", join(ctx.tmp.path, "node-rej2")]);
  assert.is(again.code, 5);
  assert.match(again.stderr, /already been used/);

  const approveRejected = await cli(["pair", "approve", requestId, ...dd()]);
  assert.is(approveRejected.code, 5);
  assert.match(approveRejected.stderr, /already rejected/);
});

E("bad usage gets a clear error and the fitting exit code", async () => {
  const cases: [string[], number, RegExp][] = [
    [["pair", "code", "--method", "sms", ...dd()], 2, /--method must be pin or qr/],
    [["pair", "code", "--method", "pin", "--ttl", "3601", ...dd()], 2, /--ttl/],
    [["pair", "code", "--method", "pin", "--ttl", "five", ...dd()], 2, /--ttl/],
    [["pair", "code", "--method", "pin", "--png", "x.png", ...dd()], 2, /--png/],
    [["pair", "approve", ...dd()], 2, /request id/],
    [["pair", "approve", "req_nope", ...dd()], 4, /no pairing request/],
    [["devices", "show", "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", ...dd()], 4, /no device/],
    [["devices", "show", "dev_nope", ...dd()], 2, /must be a device id/],
    [["pair", "list", "--state", "weird", ...dd()], 2, /--state/],
    [["pair", "list", "--bogus", ...dd()], 2, /unknown option --bogus/],
    [["pairs"], 2, /unknown command/],
    [["daemon", "--data-dir", join(ctx.tmp.path, "d2"), "--cert-lifetime", "2y"], 2, /--cert-lifetime/],
    [["daemon", "--data-dir", join(ctx.tmp.path, "d2"), "--cert-lifetime", "30s"], 2, /--cert-lifetime/],
    [["daemon", "--data-dir", join(ctx.tmp.path, "d2"), "--listen", "nowhere"], 2, /--listen must be HOST:PORT/],
    [["node", "pair", "--pin", "123"], 2, /exactly one|PIN|daemon/],
    [["node", "pair", "--daemon", "127.0.0.1:1", "--pin", "123-4567-8901", "--state-dir", join(ctx.tmp.path, "n-x")], 3, /reach/],
    [["node", "pair", "--uri", "https://example.com/pair", "--state-dir", join(ctx.tmp.path, "n-y")], 2, /scheme/],
    [["status", "--data-dir", join(ctx.tmp.path, "nowhere")], 3, /cannot reach/],
  ];
  const results = await inBatches(cases, 3, ([args]) => cli(args));
  for (const [i, [args, exit, re]] of cases.entries()) {
    const r = results[i] as Awaited<ReturnType<typeof cli>>;
    assert.is(r.code, exit, `${args.join(" ")} → ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.not.match(r.stderr, /at .*\.ts:\d+/, "no stack trace");
  }
  const j = await cli(["pair", "approve", "req_nope", "--json", ...dd()]);
  assert.is(json<{ error: { exitCode: number } }>(j.stderr).error.exitCode, 4);
});

E("--help lists every command, and a command's --help works from the real binary", async () => {
  // Each command's help (usage, flags with defaults, examples) is walked in-process in
  // test/cli-grammar.test.ts; here, the listing and one child process.
  const top = await cli(["--help"]);
  assert.is(top.code, 0);
  const { COMMANDS } = await import("../packages/cli/src/main.ts");
  assert.ok(COMMANDS.length >= 27, `${COMMANDS.length} commands`);
  for (const c of COMMANDS.filter((x) => !x.hidden)) assert.ok(top.stdout.includes(`  ${c.name} `), `--help lists ${c.name}`);
  const h = await cli(["pair", "approve", "--help"]);
  assert.is(h.code, 0);
  assert.match(h.stdout, /^Usage: tether pair approve \[ID\] \[--code NNN-NNN\] \[flags\]/);
  const status = await cli(["status", "--json", ...dd()]);
  assert.is(json<{ listen: string }>(status.stdout).listen, ctx.ready.listen);
});

E("a second daemon on the same data directory exits non-zero with a clear message", async () => {
  const r = await cli(["daemon", "--data-dir", ctx.data, "--listen", "127.0.0.1:0"]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /data directory is in use by another daemon/);
  assert.not.match(r.stderr, /\n\s+at /, "no stack trace");
  // the first daemon is unharmed
  assert.is((await cli(["status", ...dd()])).code, 0);
});

E("a restarted daemon keeps its CA, its devices and its requests", async () => {
  const before = json<unknown[]>((await cli(["devices", "list", "--json", ...dd()])).stdout);
  assert.ok(before.length >= 2);
  assert.is(await stopDaemonProcess(ctx.daemon), 0, "clean exit on SIGTERM");
  assert.not.ok(existsSync(ctx.ready.adminSocket), "socket removed on exit");
  const { d, ready } = await startDaemonProcess(ctx.data);
  ctx.daemon = d;
  assert.is(ready.caFingerprint, ctx.ready.caFingerprint);
  ctx.ready = ready;
  const after = json<unknown[]>((await cli(["devices", "list", "--json", ...dd()])).stdout);
  assert.equal(after, before);
});

E.run();
