/**
 * Text from nodes and strangers never reaches the admin's terminal raw: a real daemon, a node
 * that reports hostile text (job output, error, `tether node run`'s stderr tail, platform and
 * version), a device name with escapes (written into the store, as the daemon refuses such
 * names at pairing), refused handshakes with escapes in the selector and session id; then the
 * real CLI as a child process for every command that prints that text. Human output shows
 * each control character as an escape; `--json` parses to the exact original strings.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { visible } from "@tether/base";
import { connect } from "@tether/node";
import type { NodeConnection } from "@tether/node";
import { PAIRING_TABLES } from "@tether/pairing";
import type { PairingTables } from "@tether/pairing";
import { Store } from "@tether/store";
import { admin, call, cli, handshakeStart, mintCode, pairDevice, pinParts, rawPairing, spawnCli, startTestDaemon, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { CliResult, TestDaemon } from "./helpers.ts";

// ESC [2J (clear screen), OSC 0 (window title) ended by BEL, CSI colour, C1 CSI (U+009B), a
// bidi override (U+202E), NUL and CR.
const HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x1b[31mred\x9b1m\u202eevil\x00\rX";
const HOSTILE_NAME = "node\x1b[2J\u202eevil\x07";
const HOSTILE_SELECTOR = "12\x1b]0;title\x07";
const HOSTILE_SESSION = "sess\x1b[2J\x9b31m\u202e";
// What `node run`'s command writes to stderr (printf escapes): ESC [2J, OSC 0 … BEL, U+009B, U+202E.
const TAIL_PRINTF = "\\033[2J\\033]0;tail\\007\\302\\233\\342\\200\\256tail-end";
const TAIL = "\x1b[2J\x1b]0;tail\x07\x9b\u202etail-end";

/** Every character a terminal could act on, except the newline and tab of the layout. */
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/u;

const ctx = {} as {
  tmp: ReturnType<typeof tempDir>;
  dataDir: string;
  d: TestDaemon;
  a: string;
  b: string;
  conn: NodeConnection;
  runner: ReturnType<typeof spawnCli>;
  jobs: Record<"out" | "fail" | "tail", string>;
};
const E = suite("CLI: outside text is shown inert on the terminal, exact in --json");

const dd = () => ["--data-dir", ctx.dataDir];

/** No raw control character in `text`, naming the first one found. */
function assertInert(what: string, text: string): void {
  const m = RAW.exec(text);
  assert.ok(
    !m,
    `${what}: raw U+${m?.[0].codePointAt(0)?.toString(16).padStart(4, "0")} at ${m?.index}: ${visible(text.slice(Math.max(0, (m?.index ?? 0) - 40), (m?.index ?? 0) + 40))}`,
  );
}

/** Run the CLI; both streams must be inert; returns the result. */
async function run(args: string[]): Promise<CliResult> {
  const r = await cli(args);
  const what = `tether ${visible(args.join(" "))}`;
  assertInert(`${what} (stdout)`, r.stdout);
  assertInert(`${what} (stderr)`, r.stderr);
  return r;
}

E.before(async () => {
  ctx.tmp = tempDir("tether-escapes-");
  ctx.dataDir = join(ctx.tmp.path, "data");
  let d = await startTestDaemon({ dataDir: ctx.dataDir });
  ctx.a = await pairDevice(d, join(ctx.tmp.path, "a"), { name: "node-a" });
  ctx.b = await pairDevice(d, join(ctx.tmp.path, "b"), { name: "node-b" });
  // Strangers on the listener: refused handshakes whose selector and session id carry escapes.
  const p = rawPairing(d.listen);
  await handshakeStart(p, pinParts((await mintCode(d)).code), undefined, { selector: HOSTILE_SELECTOR }, { reveal: false }).then(
    () => assert.unreachable("a hostile Start was accepted"),
    () => undefined,
  );
  await call(p, "Reveal", { sessionId: HOSTILE_SESSION, ya: new Uint8Array(32) }).then(
    () => assert.unreachable("a hostile Reveal was accepted"),
    () => undefined,
  );
  p.close();
  // The daemon refuses names with control characters at pairing; one in the store (an older
  // version's, or a hand-edited store) must still print inert.
  await d.close();
  const store = await Store.open<PairingTables>(join(ctx.dataDir, "store"), PAIRING_TABLES);
  try {
    const dev = await store.get("devices", ctx.a);
    const req = dev && (await store.get("requests", dev.requestId));
    if (!dev || !req) throw new Error("device a is not in the store");
    await store.batch([
      { table: "devices", type: "put", value: { ...dev, name: HOSTILE_NAME } },
      { table: "requests", type: "put", value: { ...req, name: HOSTILE_NAME } },
    ]);
  } finally {
    await store.close();
  }
  d = ctx.d = await startTestDaemon({ dataDir: ctx.dataDir });

  // Device a: the SDK, with hostile platform, version, output and error.
  ctx.conn = connect(join(ctx.tmp.path, "a"), { daemon: d.listen, platform: HOSTILE, version: HOSTILE.slice(0, 30) });
  ctx.conn.handle("out", () => ({ msg: HOSTILE }));
  ctx.conn.handle("fail", () => {
    throw new Error(HOSTILE);
  });
  const registered = new Promise((r) => ctx.conn.once("registered", r));
  void ctx.conn.start();
  await registered;
  // Device b: `tether node run`, whose failing command writes escapes to stderr.
  ctx.runner = spawnCli(["node", "run", "--state-dir", join(ctx.tmp.path, "b"), "--daemon", d.listen, "--capability", `tail=printf '${TAIL_PRINTF}' >&2; exit 3`]);
  await waitFor(async () => (await admin<{ devices: { id: string; online: boolean }[] }>(d, "ListDevices")).devices.find((x) => x.id === ctx.b)?.online, "node b online");
});

E.after(async () => {
  await ctx.conn?.close();
  if (ctx.runner) await stopDaemonProcess(ctx.runner);
  await ctx.d?.stop();
  ctx.tmp.remove();
});

E("dispatch: job output, error and stderr tail are shown inert; --json carries them exactly", async () => {
  const [out, fail, tail, failJson] = await Promise.all([
    run(["dispatch", ctx.a, "out", ...dd()]),
    run(["dispatch", ctx.a, "fail", ...dd()]),
    run(["dispatch", ctx.b, "tail", ...dd()]),
    run(["dispatch", ctx.a, "fail", "--json", ...dd()]),
  ]);
  assert.is(out.code, 0, out.stderr);
  assert.ok(out.stdout.includes("\\u001b[2J") || out.stdout.includes("\\x1b[2J"), out.stdout);
  assert.ok(out.stdout.includes("\\u202e"), out.stdout);
  assert.is(fail.code, 10, fail.stderr);
  assert.ok(fail.stdout.includes("\\x1b]0;pwned\\x07"), fail.stdout);
  assert.is(tail.code, 10, tail.stderr);
  assert.ok(tail.stdout.includes("\\x1b]0;tail\\x07\\x9b\\u202etail-end"), tail.stdout);
  assert.is(failJson.code, 10);
  assert.is((JSON.parse(failJson.stdout) as { error: string }).error, HOSTILE);
});

E("jobs list and jobs show: inert; --json exact", async () => {
  const listed = await run(["jobs", "list", "--json", ...dd()]);
  const jobs = JSON.parse(listed.stdout) as { id: string; capability: string; error?: string; output: unknown }[];
  const one = (cap: string) => jobs.find((j) => j.capability === cap) as (typeof jobs)[number];
  assert.equal(one("out").output, { msg: HOSTILE });
  assert.is(one("fail").error, HOSTILE);
  assert.ok(one("tail").error?.endsWith(TAIL), one("tail").error);
  const [human, ...shown] = await Promise.all([
    run(["jobs", "list", ...dd()]),
    run(["jobs", "show", one("out").id, ...dd()]),
    run(["jobs", "show", one("fail").id, ...dd()]),
    run(["jobs", "show", one("tail").id, ...dd()]),
    run(["jobs", "show", one("tail").id, "--json", ...dd()]),
  ]);
  assert.is(human?.code, 0);
  assert.ok(shown[0]?.stdout.includes("\\u202e"), shown[0]?.stdout);
  assert.ok(shown[1]?.stdout.includes("\\x1b[2J\\x1b]0;pwned\\x07"), shown[1]?.stdout);
  assert.ok(shown[2]?.stdout.includes("\\x1b]0;tail\\x07"), shown[2]?.stdout);
  assert.ok((JSON.parse(shown[3]?.stdout ?? "") as { error: string }).error.endsWith(TAIL));
  // one line per field: an escaped value cannot start a line of its own
  for (const s of shown.slice(0, 3)) for (const line of s?.stdout.trimEnd().split("\n") ?? []) assert.match(line, /^[a-zA-Z]+ +\S/);
});

E("tether node run's own log (stderr) shows the tail inert", () => {
  assertInert("node run stderr", ctx.runner.err());
  assert.ok(ctx.runner.err().includes("tail-end"), ctx.runner.err());
});

E("audit: the refused handshakes' selector and session id are shown inert; --json exact", async () => {
  const [human, json] = await Promise.all([run(["audit", ...dd()]), run(["audit", "--json", ...dd()])]);
  assert.is(human.code, 0);
  assert.ok(human.stdout.includes("12\\x1b]0;title\\x07"), human.stdout);
  assert.ok(human.stdout.includes("sess\\x1b[2J\\x9b31m\\u202e"), human.stdout);
  const entries = JSON.parse(json.stdout) as { type: string; subject: string }[];
  const subjects = entries.filter((e) => e.type === "handshake.failed").map((e) => e.subject);
  assert.ok(subjects.includes(HOSTILE_SELECTOR), JSON.stringify(subjects));
  assert.ok(subjects.includes(HOSTILE_SESSION), JSON.stringify(subjects));
  // a table row per entry: no value breaks a row
  const rows = human.stdout.trimEnd().split("\n");
  assert.is(rows.length, entries.length + 1);
});

E("pair list, devices list and devices show: the name, platform and version are shown inert; --json exact", async () => {
  const [pairs, pairsJson, devices, devicesJson, show, showJson] = await Promise.all([
    run(["pair", "list", ...dd()]),
    run(["pair", "list", "--json", ...dd()]),
    run(["devices", "list", ...dd()]),
    run(["devices", "list", "--json", ...dd()]),
    run(["devices", "show", ctx.a, ...dd()]),
    run(["devices", "show", ctx.a, "--json", ...dd()]),
  ]);
  for (const r of [pairs, devices, show]) assert.ok(r.stdout.includes("node\\x1b[2J\\u202eevil\\x07"), r.stdout);
  assert.is(pairs.stdout.trimEnd().split("\n").length, 3, "a header and two requests");
  assert.is(devices.stdout.trimEnd().split("\n").length, 3, "a header and two devices");
  assert.ok(show.stdout.includes("\\x1b]0;pwned\\x07"), `platform shown: ${show.stdout}`);
  assert.ok((JSON.parse(pairsJson.stdout) as { name: string }[]).some((r) => r.name === HOSTILE_NAME));
  const listed = (JSON.parse(devicesJson.stdout) as { id: string; name: string; platform: string; version: string }[]).find((x) => x.id === ctx.a);
  assert.is(listed?.name, HOSTILE_NAME);
  assert.is(listed?.platform, HOSTILE);
  assert.is(listed?.version, HOSTILE.slice(0, 30));
  assert.is((JSON.parse(showJson.stdout) as { name: string }).name, HOSTILE_NAME);
});

E("errors: the daemon's status details are printed inert; --json errors carry them exactly", async () => {
  const id = "job\x1b]0;x\x07\u202e";
  const [human, json] = await Promise.all([run(["jobs", "show", id, ...dd()]), run(["jobs", "show", id, "--json", ...dd()])]);
  // Not a job id: INVALID_ARGUMENT (exit 2). The daemon echoes a short prefix of it, escaped
  // as JSON (fleet.md §0); the CLI prints that inert, and --json carries the daemon's text exactly.
  assert.is(human.code, 2, human.stderr);
  assertInert("jobs show error", human.stderr);
  const echoed = JSON.stringify(id);
  assert.ok(human.stderr.includes(visible(echoed)), human.stderr);
  assert.is(json.code, 2);
  assertInert("jobs show --json error", json.stderr);
  assert.ok((JSON.parse(json.stderr) as { error: { message: string } }).error.message.includes(echoed), json.stderr);
});

E.run();
