/**
 * The installable package: `npm pack` at the root (its prepack builds dist/), the tarball
 * installed with `npm install -g --prefix TMP`, and then only that installed `tether` (PATH
 * holds TMP/bin and a folder with nothing but `node`; cwd and HOME are temp folders; no
 * NODE_OPTIONS, no NODE_PATH) runs the daemon on port 0, mints a PIN, pairs a node, approves
 * it, runs the node with a capability and dispatches a job to it. Also bin/tether's rule
 * (sources beside it: run them; none: run dist/), and the systemd units of contrib/systemd
 * checked by `systemd-analyze verify` and `systemd-analyze security` against the installed
 * binary.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ROOT, tempDir, waitFor } from "./helpers.ts";

type Run = { code: number | null; stdout: string; stderr: string; ms: number };

/** Run a program to its end (at most `timeoutMs`), collecting its output. */
function run(cmd: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const t = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 60_000);
    child.on("error", (e) => (stderr += String(e)));
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const ctx = {} as {
  tmp: ReturnType<typeof tempDir>;
  prefix: string;
  /** the installed package's directory */
  pkg: string;
  /** the only environment the installed tether gets */
  env: NodeJS.ProcessEnv;
  work: string;
  children: ChildProcess[];
  timings: string[];
};

const P = suite("package: npm pack, npm install -g, and only the installed tether");

P.before(async () => {
  ctx.tmp = tempDir("tether-package-");
  ctx.children = [];
  ctx.timings = [];
  const t = ctx.tmp.path;
  assert.ok(relative(ROOT, t).startsWith(".."), "the install is outside the checkout");
  // npm itself runs with the environment it was given (its registry and cache settings).
  const { FORCE_COLOR: _f, ...npmEnv } = process.env;
  const pack = await run("npm", ["pack", "--pack-destination", t], { cwd: ROOT, env: npmEnv, timeoutMs: 120_000 });
  assert.is(pack.code, 0, `npm pack failed:\n${pack.stdout}\n${pack.stderr}`);
  ctx.timings.push(`npm pack (with the build) ${pack.ms} ms`);
  const tarballs = readdirSync(t).filter((f) => /^tether-.*\.tgz$/.test(f));
  assert.equal(tarballs.length, 1, `one tarball: ${tarballs.join(", ")}`);
  ctx.prefix = join(t, "prefix");
  const install = await run("npm", ["install", "-g", "--prefix", ctx.prefix, "--no-audit", "--no-fund", "--prefer-offline", `./${tarballs[0]}`], {
    cwd: t,
    env: npmEnv,
    timeoutMs: 150_000,
  });
  assert.is(install.code, 0, `npm install -g failed:\n${install.stdout}\n${install.stderr}`);
  ctx.timings.push(`npm install -g ${install.ms} ms`);
  ctx.pkg = join(ctx.prefix, "lib", "node_modules", "tether");
  // PATH: the installed bin/ and a folder holding only node (the shebang's `env node`).
  const nodeBin = join(t, "node-only");
  mkdirSync(nodeBin);
  symlinkSync(process.execPath, join(nodeBin, "node"));
  ctx.work = join(t, "work");
  mkdirSync(join(ctx.work, "home"), { recursive: true });
  mkdirSync(join(ctx.work, "tmp"));
  ctx.env = { PATH: `${join(ctx.prefix, "bin")}:${nodeBin}`, HOME: join(ctx.work, "home"), TMPDIR: join(ctx.work, "tmp"), NO_COLOR: "1" };
});

P.after(async () => {
  for (const c of ctx.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  if (ctx.timings.length) console.log(`  ${ctx.timings.join("; ")}`);
  ctx.tmp?.remove();
});

/** The installed tether, found through PATH, in the work folder, with only ctx.env. */
const tether = (args: string[], timeoutMs = 60_000) => run("tether", args, { cwd: ctx.work, env: ctx.env, timeoutMs });

/** A long-running installed tether (daemon, node pair, node run), its output collected. */
function start(args: string[]) {
  const child = spawn("tether", args, { cwd: ctx.work, env: ctx.env, stdio: ["ignore", "pipe", "pipe"] });
  ctx.children.push(child);
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  return { child, out: () => out, err: () => err, exited };
}

/** Every file under `dir`, relative to it, skipping node_modules. */
function filesUnder(dir: string, skip = "node_modules"): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === skip) continue;
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

P("the package holds the bundle, the protos and the units, no TypeScript, and no TypeScript toolchain among its dependencies", () => {
  const files = filesUnder(ctx.pkg);
  for (const f of [
    "bin/tether",
    "dist/tether.js",
    "proto/tether/v1/pairing.proto",
    "proto/tether/v1/admin.proto",
    "contrib/systemd/tether.service",
    "contrib/systemd/tether-node.service",
    "docs/operations.md",
    "package.json",
  ]) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  assert.equal(
    files.filter((f) => f.endsWith(".ts")),
    [],
    "no TypeScript source in the package",
  );
  assert.equal(
    files.filter((f) => f.startsWith("packages/") || f.startsWith("test/") || f.startsWith("bench/")),
    [],
    "no sources, tests or benchmarks",
  );
  const modules = join(ctx.pkg, "node_modules");
  for (const dep of ["tsx", "typescript", "esbuild", "uvu"]) assert.not.ok(existsSync(join(modules, dep)), `${dep} is not installed with the package`);
  // what it does need, from its own node_modules (classic-level is LevelDB's native addon)
  for (const dep of ["@grpc/grpc-js", "@grpc/proto-loader", "level", "classic-level", "@peculiar/x509"]) assert.ok(existsSync(join(modules, dep)), `${dep} is installed`);
  const manifest = JSON.parse(readFileSync(join(ctx.pkg, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  assert.not.ok("tsx" in manifest.dependencies, "tsx is not a run-time dependency");
  // the command on PATH is the installed package's bin/tether
  assert.is(realpathSync(join(ctx.prefix, "bin", "tether")), realpathSync(join(ctx.pkg, "bin", "tether")));
});

P("the installed tether answers --version and --help, and refuses a bad command with exit 2", async () => {
  const v = await tether(["--version"]);
  assert.is(v.code, 0, v.stderr);
  // the version of the package that was installed, read from its package.json, not a constant in the code
  assert.is(v.stdout, `tether ${(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version}\n`);
  const h = await tether(["--help"]);
  assert.is(h.code, 0, h.stderr);
  assert.match(h.stdout, "tether daemon &");
  const bad = await tether(["pair", "lst"]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, 'unknown command "pair lst"');
});

/** GET a path of the metrics server (plain HTTP, a fresh connection). */
async function scrape(address: string, path: string): Promise<{ status: number; body: string }> {
  const { request } = await import("node:http");
  const i = address.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const req = request({ host: address.slice(0, i), port: Number(address.slice(i + 1)), path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

P("with only the installed tether: daemon, PIN, pairing, approval, a node with a capability, a job and its result, scraped", async () => {
  const data = join(ctx.work, "daemon");
  const nodeDir = join(ctx.work, "node");
  // A config file (its TOML parser is a dependency the package loads lazily) and a flag over it.
  const config = join(ctx.work, "tether.toml");
  // metrics: prom-client, another dependency loaded only when asked for
  writeFileSync(config, 'listen = "127.0.0.1:1"\nlog-level = "warn"\nmetrics = "127.0.0.1:0"\n', { mode: 0o600 });
  const daemon = start(["daemon", "--config", config, "--data-dir", data, "--listen", "127.0.0.1:0", "--json"]);
  const line = await waitFor(
    () =>
      daemon
        .out()
        .split("\n")
        .find((l) => l.includes('"ready"')) ?? (daemon.child.exitCode !== null ? "exited" : undefined),
    `the daemon's ready line (stderr: ${daemon.err()})`,
    30_000,
  );
  assert.is.not(line, "exited", `the daemon exited: ${daemon.err()}`);
  const ready = JSON.parse(line) as { listen: string; adminSocket: string; metrics: string };
  assert.match(ready.listen, /^127\.0\.0\.1:\d+$/);
  assert.match(ready.metrics, /^127\.0\.0\.1:\d+$/, "the config file's metrics address, bound");
  assert.equal(await scrape(ready.metrics, "/readyz"), { status: 200, body: "ready\n" });
  const dd = ["--data-dir", data];

  // The readiness check of contrib/systemd/tether.service, and a probe of the TLS listener.
  const health = await tether(["health", "--wait", "30s", "--json", ...dd]);
  assert.is(health.code, 0, health.stderr);
  assert.is((JSON.parse(health.stdout) as { status: string }).status, "SERVING");
  const probe = await tether(["health", "--daemon", ready.listen, ...dd]);
  assert.is(probe.code, 0, probe.stderr);
  assert.is(probe.stdout, "SERVING\n");
  assert.not.match(daemon.err(), '"level":"info"', "the config file's log-level (warn) applies");

  const status = await tether(["status", "--json", ...dd]);
  assert.is(status.code, 0, status.stderr);
  const version = await tether(["version", "--json", ...dd]);
  assert.is(version.code, 0, version.stderr);
  assert.ok((JSON.parse(version.stdout) as { daemon: { version: string } | null }).daemon, "tether version reaches the daemon");

  const code = await tether(["pair", "code", "--method", "pin", "--json", ...dd]);
  assert.is(code.code, 0, code.stderr);
  const pin = JSON.parse(code.stdout) as { code: string; join: string };
  assert.match(pin.join, /^tether node pair --daemon 127\.0\.0\.1:\d+ --pin /, "the join command names the tether on PATH");

  const pairing = start(["node", "pair", "--daemon", ready.listen, "--pin", pin.code, "--name", "packaged", "--state-dir", nodeDir, "--json"]);
  const waiting = await waitFor(
    () =>
      pairing
        .err()
        .split("\n")
        .find((l) => l.includes("awaiting_approval")) ?? (pairing.child.exitCode !== null ? "exited" : undefined),
    `the node to wait for approval (stderr: ${pairing.err()})`,
  );
  assert.is.not(waiting, "exited", `node pair exited: ${pairing.err()}`);
  const { requestId, verificationCode } = JSON.parse(waiting) as { requestId: string; verificationCode: string };
  const pending = await tether(["pair", "list", "--state", "pending", "--json", ...dd]);
  assert.is(pending.code, 0, pending.stderr);
  assert.ok(
    (JSON.parse(pending.stdout) as { id: string }[]).some((r) => r.id === requestId),
    "the request is pending",
  );
  const approve = await tether(["pair", "approve", "--code", verificationCode, "--json", ...dd]);
  assert.is(approve.code, 0, approve.stderr);
  assert.is(await pairing.exited, 0, pairing.err());
  const device = (JSON.parse(pairing.out()) as { deviceId: string }).deviceId;
  assert.match(device, /^dev_/);

  // The capability's command finds only node on PATH: it answers with the input, the job id and a word.
  const program =
    'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>process.stdout.write(JSON.stringify({got:JSON.parse(s),job:process.env.TETHER_JOB_ID,by:"packaged"})))';
  const node = start(["node", "run", "--state-dir", nodeDir, "--capability", `reply=node -e '${program}'`, "--capability", "fail=echo broken >&2; exit 3", "--json-logs"]);
  await waitFor(() => node.err().includes('"registered"') || node.child.exitCode !== null, `the node to register (stderr: ${node.err()})`, 30_000);
  assert.is(node.child.exitCode, null, `node run exited: ${node.err()}`);

  const job = await tether(["dispatch", device, "reply", "--input", '{"hello":"world"}', "--json", ...dd]);
  assert.is(job.code, 0, `dispatch: ${job.stderr}`);
  const j = JSON.parse(job.stdout) as { id: string; state: string; output: { got: unknown; job: string; by: string } };
  assert.is(j.state, "succeeded");
  assert.equal(j.output, { got: { hello: "world" }, job: j.id, by: "packaged" });

  // A job whose command fails is reported failed, with its stderr, and exit 10 (docs/operations.md).
  const bad = await tether(["dispatch", device, "fail", "--input", "{}", "--json", ...dd]);
  assert.is(bad.code, 10, bad.stderr);
  const b = JSON.parse(bad.stdout) as { state: string; error: string };
  assert.is(b.state, "failed");
  assert.match(b.error, "broken");
  const m = await scrape(ready.metrics, "/metrics");
  assert.is(m.status, 200);
  for (const sample of [
    'tether_jobs_finished_total{state="succeeded"} 1',
    'tether_jobs_finished_total{state="failed"} 1',
    "tether_nodes_connected 1",
    'tether_pairing_outcomes_total{result="approved"} 1',
  ]) {
    assert.ok(m.body.split("\n").includes(sample), `the installed daemon's metrics say ${sample}`);
  }
  // The web console's page and script come from the package (dist/static), not from a checkout.
  const link = await tether(["console", "--json", ...dd]);
  assert.is(link.code, 0, link.stderr);
  const consoleAt = new URL((JSON.parse(link.stdout) as { url: string }).url).host;
  assert.is((await scrape(consoleAt, "/assets/app.js")).status, 200, "the installed console serves its script");
  assert.match((await scrape(consoleAt, "/assets/app.js")).body, "EventSource");

  node.child.kill("SIGTERM");
  assert.is(await node.exited, 0, `node run drains and exits 0: ${node.err()}`);
  daemon.child.kill("SIGTERM");
  assert.is(await daemon.exited, 0, `the daemon stops cleanly: ${daemon.err()}`);
  assert.not.ok(existsSync(ready.adminSocket), "the admin socket is removed");
  assert.equal(readdirSync(join(ctx.work, "home")), [], "nothing written to HOME");
});

/** A folder laid out like tether's package, with stand-ins for the sources' entry and the bundle. */
function layout(name: string, withSources: boolean): string {
  const dir = join(ctx.tmp.path, name);
  mkdirSync(join(dir, "bin"), { recursive: true });
  mkdirSync(join(dir, "dist"));
  copyFileSync(join(ROOT, "bin", "tether"), join(dir, "bin", "tether"));
  chmodSync(join(dir, "bin", "tether"), 0o755);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "tether", type: "module" }));
  writeFileSync(join(dir, "dist", "tether.js"), 'process.stdout.write("the bundle\\n");\n');
  if (withSources) {
    mkdirSync(join(dir, "packages", "cli", "src"), { recursive: true });
    writeFileSync(join(dir, "packages", "cli", "src", "main.ts"), "export {};\n");
    writeFileSync(join(dir, "packages", "cli", "src", "entry.js"), 'process.stdout.write("the sources\\n");\n');
  }
  return join(dir, "bin", "tether");
}

P("bin/tether runs the sources when they are beside it (a stale dist/ never runs in a checkout), else the bundle", async () => {
  const checkout = await run(process.execPath, [layout("checkout", true)], { cwd: ctx.work, env: ctx.env });
  assert.is(checkout.stdout, "the sources\n", checkout.stderr);
  const installed = await run(process.execPath, [layout("installed", false)], { cwd: ctx.work, env: ctx.env });
  assert.is(installed.stdout, "the bundle\n", installed.stderr);
});

/** A copy of a unit whose /usr/bin/tether is the installed test binary (verify checks that ExecStart exists). */
function unitCopy(name: string, edit: (s: string) => string = (s) => s): string {
  const dir = join(ctx.tmp.path, "units");
  mkdirSync(dir, { recursive: true });
  const text = readFileSync(join(ROOT, "contrib", "systemd", name), "utf8");
  assert.match(text, "/usr/bin/tether ");
  const file = join(dir, name);
  writeFileSync(file, edit(text.replaceAll("/usr/bin/tether ", `${join(ctx.prefix, "bin", "tether")} `)));
  return file;
}

const SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze";

P("contrib/systemd: both units pass systemd-analyze verify with no warning; a misspelt key would show", async () => {
  assert.ok(existsSync(SYSTEMD_ANALYZE), `${SYSTEMD_ANALYZE} is missing: apt-get install systemd (test/ensure-tools.sh)`);
  const units = [unitCopy("tether.service"), unitCopy("tether-node.service")];
  const env = { PATH: "/usr/bin:/bin", SYSTEMD_LOG_COLOR: "0" };
  const ok = await run(SYSTEMD_ANALYZE, ["verify", ...units], { cwd: ctx.tmp.path, env });
  assert.is(ok.code, 0, ok.stderr);
  assert.is(`${ok.stdout}${ok.stderr}`, "", "no warning at all");
  // The same check on a unit with a misspelt key and a missing binary: it is not silent.
  const bad = unitCopy("tether.service", (s) =>
    s.replace("ProtectSystem=strict", "ProtectSytem=strict").replace(`${join(ctx.prefix, "bin", "tether")} health`, "/nonexistent/tether health"),
  );
  const seen = await run(SYSTEMD_ANALYZE, ["verify", bad], { cwd: ctx.tmp.path, env });
  assert.match(seen.stderr, "Unknown key 'ProtectSytem'");
  assert.match(seen.stderr, "/nonexistent/tether");
});

P("contrib/systemd: the hardening a packager expects, and systemd-analyze security's exposure at most 1.5", async () => {
  for (const name of ["tether.service", "tether-node.service"]) {
    const text = readFileSync(join(ROOT, "contrib", "systemd", name), "utf8");
    const lines = text.split("\n");
    const has = (line: string) => lines.includes(line);
    for (const line of [
      "Type=exec",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "NoNewPrivileges=yes",
      "PrivateTmp=yes",
      "PrivateDevices=yes",
      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
      "SystemCallFilter=@system-service",
      "CapabilityBoundingSet=",
      "UMask=0077",
      "LockPersonality=yes",
      "Restart=on-failure",
      "ExecReload=/bin/kill -HUP $MAINPID",
    ]) {
      assert.ok(has(line), `${name}: ${line}`);
    }
    for (const key of ["RestartSec", "User", "StateDirectory"])
      assert.ok(
        lines.some((l) => new RegExp(`^${key}=\\S`).test(l)),
        `${name}: ${key}=`,
      );
    assert.not.ok(
      lines.some((l) => l.startsWith("MemoryDenyWriteExecute=")),
      `${name}: MemoryDenyWriteExecute stays unset (V8's JIT)`,
    );
    const sec = await run(SYSTEMD_ANALYZE, ["security", "--offline=yes", unitCopy(name)], { cwd: ctx.tmp.path, env: { PATH: "/usr/bin:/bin", SYSTEMD_LOG_COLOR: "0" } });
    const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(sec.stdout);
    assert.ok(m, `systemd-analyze security printed an exposure level:\n${sec.stdout}\n${sec.stderr}`);
    assert.ok(Number(m[1]) <= 1.5, `${name}: exposure ${m[1]} <= 1.5`);
    ctx.timings.push(`${name} exposure ${m[1]}`);
  }
  const daemon = readFileSync(join(ROOT, "contrib", "systemd", "tether.service"), "utf8");
  assert.match(daemon, "\nEnvironment=TETHER_HOME=/var/lib/tether\n");
  assert.match(daemon, "\nStateDirectory=tether\n");
  assert.match(daemon, "\nExecStartPost=/usr/bin/tether health --wait 60s --data-dir /var/lib/tether\n");
  assert.match(daemon, "\nEnvironmentFile=-/etc/tether/tether.env\n");
  const node = readFileSync(join(ROOT, "contrib", "systemd", "tether-node.service"), "utf8");
  assert.match(node, "\nEnvironment=TETHER_NODE_HOME=/var/lib/tether-node\n");
  assert.match(node, "\nExecStart=/usr/bin/tether node run --json-logs $TETHER_NODE_ARGS\n");
  assert.match(node, "\nKillMode=mixed\n");
});

P.run();
