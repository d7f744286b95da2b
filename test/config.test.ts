/**
 * The daemon's configuration (docs/operations.md, "Configuration"), with the real daemon
 * process: one table of settings (flag --x-y, env TETHER_X_Y, key x-y), the precedence
 * flag > environment > file > default as --print-config shows it and as the daemon binds,
 * every bad value refused with exit 2 naming where it came from (and nothing written), and
 * SIGHUP: the log level and the pairing budgets change live, a bad file keeps the running
 * configuration, a changed listen address is reported as needing a restart.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { RELOADABLE, daemonSettings } from "../packages/cli/src/commands/daemon.ts";
import { ROOT, call, cli, cliInProcess, rawPairing, spawnCli, startDaemonWith, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { CliResult, Ready } from "./helpers.ts";

type Proc = ReturnType<typeof spawnCli>;
type Row = { value: string | boolean | null; default?: string | null; source: "flag" | "env" | "file" | "default"; from: string | null; env: string; reload: "live" | "restart" };
type Printed = { file: string | null; settings: Record<string, Row>; ignored: { variable: string; suggestions: string[] }[] };
type Line = Record<string, unknown> & { level: string; msg: string };

/**
 * No TETHER_* variable of the shell running the tests reaches these daemons (a developer's
 * TETHER_LOG_LEVEL would change what they show): each is unset unless a test sets it.
 */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const unset = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => k.startsWith("TETHER_"))
      .map((k) => [k, undefined]),
  );
  return { ...unset, ...extra };
}

/**
 * `tether daemon ARGS`: as a child process (`real`), else main() in this process (the same
 * command; a child costs over a second of CPU under tsx, and most cases here only check what
 * happens before the daemon would start). In this process the environment is exactly `extra`.
 */
async function daemon(args: string[], extra: NodeJS.ProcessEnv = {}, real = false): Promise<CliResult> {
  if (real) return cli(["daemon", ...args], { env: env(extra), timeoutMs: 30_000 });
  return cliInProcess(["daemon", ...args], { env: extra });
}

async function printed(args: string[], extra: NodeJS.ProcessEnv = {}, real = false): Promise<Printed> {
  const r = await daemon([...args, "--print-config", "--json"], extra, real);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Printed;
}

/** A refusal: exit 2, the message (stderr) matches, and the data directory was not made. */
async function refused(args: string[], extra: NodeJS.ProcessEnv, message: string | RegExp, dataDir: string, real = false): Promise<void> {
  const r = await daemon(["--data-dir", dataDir, ...args], extra, real);
  assert.is(r.code, 2, `exit 2 (stdout ${r.stdout}, stderr ${r.stderr})`);
  assert.match(r.stderr, message);
  assert.is(r.stdout, "", "no ready line");
  assert.not.ok(existsSync(dataDir), "nothing written: no data directory");
}

/** Start `tether daemon` with these arguments and environment; resolves with its ready line. */
async function start(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ d: Proc; ready: Ready }> {
  return startDaemonWith(args, env(extra));
}

function lines(p: Proc): Line[] {
  return p
    .err()
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .map((l) => JSON.parse(l) as Line);
}

const C = suite("config: one table, precedence, refusals, --print-config");
const ctx = {} as { tmp: ReturnType<typeof tempDir>; n: number };

C.before(() => {
  ctx.tmp = tempDir("tether-config-");
  ctx.n = 0;
});
C.after(() => ctx.tmp.remove());

/** A config file with this text, mode 0644. */
function file(text: string, name = `c${++ctx.n}.toml`): string {
  const path = join(ctx.tmp.path, name);
  writeFileSync(path, text, { mode: 0o644 });
  chmodSync(path, 0o644);
  return path;
}
const fresh = () => join(ctx.tmp.path, `data-${++ctx.n}`);

C("every flag of tether daemon but --config and --print-config is a setting, with TETHER_NAME and the key NAME; docs/operations.md lists each", async () => {
  const settings = daemonSettings();
  const p = await printed(["--data-dir", fresh()]);
  assert.equal(
    Object.keys(p.settings),
    settings.map((s) => s.name),
  );
  for (const s of settings) {
    const expected = s.name === "data-dir" ? "TETHER_HOME" : `TETHER_${s.name.toUpperCase().replace(/-/g, "_")}`;
    assert.is(s.env, expected, `--${s.name}`);
    assert.is(p.settings[s.name]?.env, expected);
    assert.is(p.settings[s.name]?.reload, RELOADABLE.includes(s.name) ? "live" : "restart");
  }
  assert.not.ok("config" in p.settings || "print-config" in p.settings || "json" in p.settings);
  // The operator's table: one row per setting, key, variable and flag.
  const doc = readFileSync(join(ROOT, "docs", "operations.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Configuration"), doc.indexOf("\n## ", doc.indexOf("## Configuration") + 5));
  for (const s of settings) {
    assert.ok(section.includes(`| \`${s.name}\` | \`${s.env}\` |`), `docs/operations.md, Configuration: a row "| \`${s.name}\` | \`${s.env}\` | ..." for --${s.name}`);
  }
  // and the example file shows every key (commented or not), and is itself a valid file
  const example = readFileSync(join(ROOT, "contrib", "tether.toml"), "utf8");
  for (const s of settings) assert.match(example, new RegExp(`^#? ?${s.name} = `, "m"), `contrib/tether.toml has ${s.name}`);
  const copy = file(example, "example.toml"); // a copy of mode 0644, whatever the checkout's umask
  const q = await printed(["--config", copy, "--data-dir", fresh()]);
  assert.is(q.file, copy);
  assert.equal([q.settings.listen?.value, q.settings.advertise?.value, q.settings["log-level"]?.source], ["0.0.0.0:7443", "tether.example.net:7443", "file"]);
  // and with every commented key uncommented, it is still valid: the defaults it shows are real values
  const all = file(example.replace(/^# ([a-z-]+ = )/gm, "$1"), "example-all.toml");
  const r = await printed(["--config", all, "--data-dir", fresh()]);
  for (const s of settings) assert.is(r.settings[s.name]?.source, s.name === "data-dir" ? "flag" : "file", `${s.name} from the example`);
});

C("precedence in --print-config: flag over environment over file over default, each value with its source", async () => {
  const data = fresh();
  const f = file(
    [
      'listen = "127.0.0.2:7001"',
      'cert-lifetime = "2h"',
      'job-retention = "3d"',
      'log-level = "warn"',
      "pairing-burst = 7",
      `data-dir = "${join(ctx.tmp.path, "from-file")}"`,
    ].join("\n"),
  );
  const p = await printed(
    ["--config", f, "--listen", "127.0.0.4:7003"],
    { TETHER_LISTEN: "127.0.0.3:7002", TETHER_CERT_LIFETIME: "3h", TETHER_HOME: data, TETHER_PAIRING_RATE: "" },
    true,
  );
  assert.is(p.file, f);
  const s = p.settings;
  assert.equal([s.listen?.value, s.listen?.source, s.listen?.from], ["127.0.0.4:7003", "flag", "--listen"]);
  assert.equal([s["cert-lifetime"]?.value, s["cert-lifetime"]?.source, s["cert-lifetime"]?.from], ["3h", "env", "TETHER_CERT_LIFETIME"]);
  assert.equal([s["data-dir"]?.value, s["data-dir"]?.source, s["data-dir"]?.from], [data, "env", "TETHER_HOME"]);
  assert.equal([s["job-retention"]?.value, s["job-retention"]?.source, s["job-retention"]?.from], ["3d", "file", f]);
  assert.equal([s["log-level"]?.value, s["log-level"]?.source], ["warn", "file"]);
  assert.equal([s["pairing-burst"]?.value, s["pairing-burst"]?.source], ["7", "file"], "a TOML integer, checked as its text");
  // an empty variable is unset
  assert.equal([s["pairing-rate"]?.value, s["pairing-rate"]?.source, s["pairing-rate"]?.default], [null, "default", "2"]);
  assert.equal([s.advertise?.value, s.advertise?.source, s.advertise?.from], [null, "default", null]);
  // TETHER_CONFIG names the file when --config does not; --config wins over it
  const g = file('listen = "127.0.0.5:7005"');
  assert.is((await printed(["--data-dir", data], { TETHER_CONFIG: g })).settings.listen?.value, "127.0.0.5:7005");
  assert.is((await printed(["--data-dir", data, "--config", f], { TETHER_CONFIG: g })).settings.listen?.value, "127.0.0.2:7001");
  // without a file, the human form says so; nothing was created by any of this
  const human = await daemon(["--data-dir", data, "--print-config"]);
  assert.is(human.code, 0);
  assert.match(human.stdout, "config file: none (give --config FILE or $TETHER_CONFIG)");
  assert.match(human.stdout, /listen\s+\(default: 127\.0\.0\.1:7443\)\s+default\s+needs a restart/);
  assert.match(human.stdout, /log-level\s+\(default: info\)\s+default\s+applied/);
  assert.not.ok(existsSync(data), "--print-config created no data directory");
  assert.not.ok(existsSync(join(ctx.tmp.path, "from-file")));
});

C("precedence in what the daemon binds: the environment's listen address over the file's, the flag's over both", async () => {
  // 127.0.0.0/8 is loopback on Linux: three hosts, port 0, so the bound address shows the source.
  const f = file('listen = "127.0.0.2:0"');
  const a = await start(["--data-dir", fresh(), "--config", f], { TETHER_LISTEN: "127.0.0.3:0" });
  try {
    assert.match(a.ready.listen, /^127\.0\.0\.3:\d+$/);
  } finally {
    assert.is(await stopDaemonProcess(a.d), 0);
  }
  const b = await start(["--data-dir", fresh(), "--config", f, "--listen", "127.0.0.4:0"], { TETHER_LISTEN: "127.0.0.3:0" });
  try {
    assert.match(b.ready.listen, /^127\.0\.0\.4:\d+$/);
  } finally {
    assert.is(await stopDaemonProcess(b.d), 0);
  }
});

C("a key that is no setting is refused with its name and the nearest key; so is a table; exit 2, nothing written", async () => {
  await refused(["--config", file('listen = "127.0.0.1:0"\nlisen = "127.0.0.1:0"\n')], {}, /c\d+\.toml: unknown key "lisen"; did you mean `listen`\?/, fresh(), true);
  await refused(["--config", file('cert_lifetime = "2h"')], {}, /unknown key "cert_lifetime"; did you mean `cert-lifetime`\?/, fresh());
  await refused(["--config", file("[listener]\nmax-connections = 5\n")], {}, /unknown key "listener"/, fresh());
  // --config and --print-config are flags, not keys
  await refused(["--config", file('config = "/etc/other.toml"')], {}, /unknown key "config"/, fresh());
  const j = await daemon(["--data-dir", fresh(), "--config", file("lsten = 1"), "--json"]);
  assert.is(j.code, 2);
  const e = (JSON.parse(j.stderr) as { error: { word: string; suggestions: string[]; exitCode: number } }).error;
  assert.equal([e.word, e.suggestions, e.exitCode], ["lsten", ["listen"], 2]);
});

C("a bad value is refused as the flag's would be, naming where it came from: the variable, or the file and key", async () => {
  const dir = fresh();
  await refused(["--listen", "nowhere"], {}, '--listen must be HOST:PORT (IPv6 as [ADDR]:PORT), got "nowhere"', dir);
  await refused([], { TETHER_LISTEN: "nowhere" }, 'TETHER_LISTEN: must be HOST:PORT (IPv6 as [ADDR]:PORT), got "nowhere"', dir, true);
  const f = file('cert-lifetime = "100d"');
  await refused(["--config", f], {}, `${f}: cert-lifetime: must be between 1m and 90d`, dir, true);
  await refused([], { TETHER_CERT_LIFETIME: "forever" }, 'TETHER_CERT_LIFETIME: must be a duration like 24h, 90m, 3600s or 7d, got "forever"', dir);
  await refused([], { TETHER_JOB_RETENTION: "30s" }, "TETHER_JOB_RETENTION: must be 0 (keep forever) or between 1m and 3650d", dir);
  await refused([], { TETHER_LOG_LEVEL: "chatty" }, 'TETHER_LOG_LEVEL: must be error, warn, info or debug, got "chatty"', dir);
  await refused(["--log-level", "chatty"], {}, '--log-level must be error, warn, info or debug, got "chatty"', dir);
  await refused([], { TETHER_MAX_CONNECTIONS: "0" }, 'TETHER_MAX_CONNECTIONS: must be a whole number from 1 to 1000000, got "0"', dir);
  await refused([], { TETHER_PAIRING_RATE: "-1" }, "TETHER_PAIRING_RATE: must be a number of calls per second above 0", dir);
  await refused([], { TETHER_HANDSHAKE_TIMEOUT: "1h" }, "TETHER_HANDSHAKE_TIMEOUT: must be between 1s and 5m", dir);
  await refused([], { TETHER_ADVERTISE: "x" }, 'TETHER_ADVERTISE: must be HOST:PORT (IPv6 as [ADDR]:PORT), got "x"', dir);
  const g = file('max-handshakes-per-address = "many"');
  await refused(["--config", g], {}, `${g}: max-handshakes-per-address: must be a whole number from 1 to 1000000, got "many"`, dir);
  // wrong TOML types
  const h = file("listen = true");
  await refused(["--config", h], {}, `${h}: listen: must be a string (HOST:PORT), got a boolean`, dir);
  await refused(["--config", file('listen = ["127.0.0.1:0"]')], {}, /listen: must be a string \(HOST:PORT\), got an array/, dir);
  await refused(["--config", file("log-level = 1979-05-27")], {}, /log-level: must be a string .*got a date/, dir);
  await refused(["--config", file("listen = 7443")], {}, /listen: must be HOST:PORT .*got "7443"/, dir);
  // --print-config checks the same way
  const r = await daemon(["--data-dir", dir, "--print-config"], { TETHER_LISTEN: "nowhere" });
  assert.is(r.code, 2);
  assert.match(r.stderr, "TETHER_LISTEN: must be HOST:PORT");
  assert.not.ok(existsSync(dir));
  // an empty value in the file is a value, and a bad one (only an empty variable means unset)
  const empty = await daemon(["--config", file('data-dir = ""'), "--print-config"]);
  assert.is(empty.code, 2);
  assert.match(empty.stderr, /c\d+\.toml: data-dir: must be a directory path, got ""/);
});

C("a syntax error names the file, line and column; an unreadable, missing, non-regular or non-UTF-8 file is refused; exit 2", async () => {
  const dir = fresh();
  const f = file('listen = "127.0.0.1:0"\nlog-level = "debug"\ncert-lifetime = \n');
  await refused(["--config", f], {}, new RegExp(`${f.replace(/[.]/g, "\\.")}:3:\\d+: invalid value \\(TOML syntax\\)`), dir, true);
  const g = file('listen = "127.0.0.1:0"\nlisten = "127.0.0.2:0"\n');
  await refused(["--config", g], {}, new RegExp(`${g.replace(/[.]/g, "\\.")}:2:\\d+: .*\\(TOML syntax\\)`), dir);
  const missing = join(ctx.tmp.path, "missing.toml");
  await refused(["--config", missing], {}, `cannot read config file ${missing}: ENOENT (no such file)`, dir);
  await refused([], { TETHER_CONFIG: missing }, `cannot read config file ${missing}: ENOENT`, dir);
  const folder = join(ctx.tmp.path, "folder.toml");
  mkdirSync(folder);
  await refused(["--config", folder], {}, `config file ${folder} is not a regular file`, dir);
  const binary = join(ctx.tmp.path, "latin1.toml");
  writeFileSync(binary, Buffer.from([0x6c, 0x6f, 0x67, 0x3d, 0x22, 0xe9, 0x22, 0x0a]), { mode: 0o644 });
  await refused(["--config", binary], {}, `config file ${binary} is not UTF-8 text`, dir);
  // the parser's message goes on with the file's lines: none of them is printed
  const secretish = file('listen = "127.0.0.1:0"\n# do-not-echo-this-line\nlog-level = \n');
  const r = await daemon(["--data-dir", dir, "--config", secretish]);
  assert.is(r.code, 2);
  assert.not.match(r.stderr, "do-not-echo-this-line");
  if (process.getuid?.() !== 0) {
    const locked = file('listen = "127.0.0.1:0"');
    chmodSync(locked, 0o000);
    await refused(["--config", locked], {}, `cannot read config file ${locked}: EACCES (permission denied)`, dir);
  }
});

C("a config file another user could change is refused: writable by every user, or owned by another user (security.md 53)", async () => {
  const dir = fresh();
  const f = file('listen = "127.0.0.1:0"');
  chmodSync(f, 0o666);
  await refused(["--config", f], {}, `config file ${f} is writable by every user (mode 0666): anyone could change the daemon's settings; run: chmod o-w ${f}`, dir, true);
  chmodSync(f, 0o664); // group-writable: the group is the admin's choice
  assert.is((await printed(["--data-dir", dir, "--config", f])).settings.listen?.value, "127.0.0.1:0");
  if (process.getuid?.() === 0) {
    chownSync(f, 4242, 4242);
    chmodSync(f, 0o644);
    await refused(["--config", f], {}, `config file ${f} belongs to user 4242, not to root or to this user (0)`, dir);
  }
});

C("an unknown TETHER_* variable is not an error: --print-config and the start's log name it, with the nearest setting; tether's own are not named", async () => {
  const extra = { TETHER_LISTN: "127.0.0.1:1", TETHER_NODE_HOME: "/x", TETHER_JOB_ID: "job_x" };
  const p = await printed(["--data-dir", fresh()], extra);
  assert.equal(p.ignored, [{ variable: "TETHER_LISTN", suggestions: ["TETHER_LISTEN"] }]);
  const human = await daemon(["--data-dir", fresh(), "--print-config"], extra);
  assert.match(human.stdout, "warning: TETHER_LISTN is not a setting of tether daemon; ignored; did you mean `TETHER_LISTEN`?");
  const a = await start(["--data-dir", fresh(), "--listen", "127.0.0.1:0"], extra);
  try {
    const w = lines(a.d).filter((l) => l.msg === "environment variable ignored");
    assert.equal(
      w.map((l) => [l.level, l.variable, l.suggestions]),
      [["warn", "TETHER_LISTN", ["TETHER_LISTEN"]]],
    );
    assert.not.match(a.d.err(), "127.0.0.1:1", "the value is not logged");
  } finally {
    assert.is(await stopDaemonProcess(a.d), 0);
  }
});

C.run();

// --- SIGHUP ---

const H = suite("config: SIGHUP reloads the log level and the pairing budgets; a bad file keeps the running configuration");
const hctx = {} as { tmp: ReturnType<typeof tempDir>; file: string; data: string; d: Proc; ready: Ready };

H.before(async () => {
  hctx.tmp = tempDir("tether-config-hup-");
  hctx.file = join(hctx.tmp.path, "tether.toml");
  hctx.data = join(hctx.tmp.path, "data");
  // A budget of one Pairing call per address, refilled once in 1000 s: the second call is refused RATE_LIMITED.
  write('listen = "127.0.0.1:0"\npairing-burst = 1\npairing-rate = 0.001\n');
  const s = await start(["--config", hctx.file]);
  hctx.d = s.d;
  hctx.ready = s.ready;
});

H.after(async () => {
  await stopDaemonProcess(hctx.d, "SIGKILL");
  hctx.tmp.remove();
});

/** Write the config file: the data directory (from the file, so a reload may change it), then `text`. */
function write(text: string, dataDir = hctx.data): void {
  writeFileSync(hctx.file, `data-dir = "${dataDir}"\n${text}`, { mode: 0o644 });
}

/** Send SIGHUP; resolves with the reload's log line (the n-th of its kind). */
async function hangup(msg: string): Promise<Line> {
  const before = lines(hctx.d).filter((l) => l.msg === msg).length;
  hctx.d.child.kill("SIGHUP");
  return waitFor(() => lines(hctx.d).filter((l) => l.msg === msg)[before], `a "${msg}" line after SIGHUP (stderr: ${hctx.d.err()})`);
}

/** One Start from this address: the status code it is refused with (the request is empty). */
async function startCall(): Promise<number> {
  const c = rawPairing(hctx.ready.listen);
  try {
    await call(c, "Start", {});
    return status.OK;
  } catch (err) {
    return (err as ServiceError).code;
  } finally {
    c.close();
  }
}

const rateLimited = () => lines(hctx.d).filter((l) => l.msg === "rpc refused" && l.code === "RATE_LIMITED");

H("log-level: at info the RATE_LIMITED refusals are not logged; after SIGHUP with debug in the file they are", async () => {
  assert.is.not(await startCall(), status.RESOURCE_EXHAUSTED, "the first call spends the budget");
  assert.is(await startCall(), status.RESOURCE_EXHAUSTED);
  assert.is(rateLimited().length, 0, "a debug line, not written at info");
  write('listen = "127.0.0.1:0"\npairing-burst = 1\npairing-rate = 0.001\nlog-level = "debug"\n');
  const line = await hangup("configuration reloaded");
  assert.is(line.level, "info");
  assert.equal(line.changed, { "log-level": { from: null, to: "debug" } });
  assert.equal(line.needsRestart, {});
  assert.equal(line.effect, { logLevel: { from: "info", to: "debug" } });
  assert.is(line.file, hctx.file);
  assert.is(await startCall(), status.RESOURCE_EXHAUSTED, "the budget is as it was");
  await waitFor(() => rateLimited().length === 1, "the refusal logged at debug");
  assert.is(rateLimited()[0]?.level, "debug");
});

H("the pairing budgets: after SIGHUP with a larger burst and rate, the same address is served again", async () => {
  write('listen = "127.0.0.1:0"\npairing-burst = 1000\npairing-rate = 1000\nlog-level = "debug"\n');
  const line = await hangup("configuration reloaded");
  assert.equal(line.changed, { "pairing-burst": { from: "1", to: "1000" }, "pairing-rate": { from: "0.001", to: "1000" } });
  assert.equal(line.effect, { pairingRateLimit: { from: { burst: 1, perSecond: 0.001 }, to: { burst: 1000, perSecond: 1000 } } });
  await new Promise((r) => setTimeout(r, 50)); // 50 ms at 1000 a second refill the bucket
  const before = rateLimited().length;
  assert.is.not(await startCall(), status.RESOURCE_EXHAUSTED);
  assert.is.not(await startCall(), status.RESOURCE_EXHAUSTED);
  assert.is(rateLimited().length, before);
});

H("a bad file on SIGHUP is logged, naming the file and line, and the daemon runs on with its configuration", async () => {
  write('listen = "127.0.0.1:0"\nlog-level = "error"\npairing-burst = \n');
  const line = await hangup("configuration reload failed; keeping the running configuration");
  assert.is(line.level, "error");
  assert.match(String(line.error), `${hctx.file}:4:`);
  write('listen = "127.0.0.1:0"\nlog-level = "error"\nlisen = "x"\n');
  const second = await hangup("configuration reload failed; keeping the running configuration");
  assert.match(String(second.error), 'unknown key "lisen"; did you mean `listen`?');
  write('listen = "127.0.0.1:0"\nlog-level = "error"\npairing-burst = 0\n');
  const third = await hangup("configuration reload failed; keeping the running configuration");
  assert.match(String(third.error), `${hctx.file}: pairing-burst: must be a whole number from 1 to 1000000, got "0"`);
  // still running, still at debug (log-level = "error" was not applied), still serving
  assert.is(hctx.d.child.exitCode, null);
  const st = await cliInProcess(["status", "--data-dir", hctx.data, "--json"]);
  assert.is(st.code, 0, st.stderr);
  assert.is.not(await startCall(), status.RESOURCE_EXHAUSTED);
  const n = lines(hctx.d).length;
  assert.is.not(await startCall(), status.OK);
  await waitFor(
    () =>
      lines(hctx.d)
        .slice(n)
        .some((l) => l.level === "info" && l.msg === "rpc refused"),
    "info lines still written",
  );
});

H("a --store URL put into the file is reported as needing a restart, its password hidden (security.md row 56)", async () => {
  write(
    'listen = "127.0.0.1:0"\nlog-level = "debug"\npairing-burst = 1000\npairing-rate = 1000\nstore = "postgresql://tether:hunter2@db.example/tether"\nkek-file = "/etc/tether/kek.json"\n',
  );
  const line = await hangup("configuration reloaded");
  assert.equal((line.needsRestart as Record<string, unknown>).store, { from: null, to: "postgresql://tether:***@db.example/tether" });
  assert.not.match(hctx.d.err(), /hunter2/);
});

H("a changed listen address (and data-dir) is reported as needing a restart, and not applied; the live ones are", async () => {
  write('listen = "127.0.0.1:1"\nlog-level = "info"\npairing-burst = 1000\npairing-rate = 1000\n', join(hctx.tmp.path, "elsewhere"));
  const line = await hangup("configuration reloaded");
  assert.is(line.level, "warn", "a restart is needed: warn");
  assert.equal(line.needsRestart, {
    "data-dir": { from: hctx.data, to: join(hctx.tmp.path, "elsewhere") },
    listen: { from: "127.0.0.1:0", to: "127.0.0.1:1" },
  });
  assert.equal(line.changed, { "log-level": { from: "debug", to: "info" } });
  const st = JSON.parse((await cliInProcess(["status", "--data-dir", hctx.data, "--json"])).stdout) as { listen: string };
  assert.is(st.listen, hctx.ready.listen, "still on its address");
  assert.not.ok(existsSync(join(hctx.tmp.path, "elsewhere")));
  // reported again at the next reload, as long as the file says so
  const again = await hangup("configuration reloaded");
  assert.equal(Object.keys(again.needsRestart as object), ["data-dir", "listen"]);
  assert.equal(again.changed, {});
  assert.is(await stopDaemonProcess(hctx.d, "SIGTERM"), 0, "a SIGTERM after reloads stops it cleanly");
});

H.run();
