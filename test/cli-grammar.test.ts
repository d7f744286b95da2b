/**
 * The CLI's grammar, as a demanding admin expects it: every registered command refuses an
 * unknown flag and an extra word with exit 2, naming the word, before it does anything (no
 * state changed); a mistyped command or flag gets the nearest spelling; every --help has a
 * usage line, every flag with its default, and an example; `tether version` shows the CLI,
 * protocol and daemon versions with and without a daemon; the completion scripts complete
 * commands, flags, choices and live values from a real daemon (bash run for real, fish too,
 * zsh parsed); -o json|table|wide; the devices list filters; human times are RFC 3339.
 * In-process through main() except where the shell or the process is the thing tested.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { VERSION as DAEMON_VERSION } from "@tether/daemon";
import { PAIR_PROTOCOL_VERSION } from "@tether/crypto";
import { connect } from "@tether/node";
import type { NodeConnection } from "@tether/node";
import type { Device, PairRequest } from "@tether/wire";
import { CLI_VERSION, flagsOf, helpOf } from "../packages/cli/src/cli.ts";
import type { Command } from "../packages/cli/src/cli.ts";
import { COMMANDS } from "../packages/cli/src/main.ts";
import { BIN, admin, cliInProcess, handshakeFinish, handshakeStart, mintCode, pairDevice, pinParts, rawPairing, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

type Out = { code: number; stdout: string; stderr: string };

const ctx = {} as {
  tmp: ReturnType<typeof tempDir>;
  /** a regular file: a command that ran despite a usage error fails on it at once */
  notADir: string;
  d: TestDaemon;
  node: string;
  other: string;
  orch: string;
  request: string;
  conn: NodeConnection;
  job: string;
};

/** Run main() in this process with `env` (default: the test daemon's data directory). */
const tether = (args: string[], env: NodeJS.ProcessEnv = { TETHER_HOME: ctx.d.dataDir }): Promise<Out> => cliInProcess(args, { env });

/** Where nothing can run: data and state directories that are files. */
const nowhere = () => ({ TETHER_HOME: ctx.notADir, TETHER_NODE_HOME: ctx.notADir });

/** The words that reach `cmd` with each required positional filled in (a choice's first value). */
function reach(cmd: Command): string[] {
  return [...cmd.name.split(" "), ...cmd.args.filter((a) => !a.optional).map((a) => a.choices?.[0] ?? "x")];
}

const devices = async () => (await admin<{ devices: Device[] }>(ctx.d, "ListDevices")).devices;
const device = async (id: string) => (await devices()).find((x) => x.id === id) as Device;

const G = suite("CLI grammar: strict words and flags, suggestions, help, version, completion, output formats");

G.before(async () => {
  ctx.tmp = tempDir();
  ctx.notADir = join(ctx.tmp.path, "not-a-dir");
  writeFileSync(ctx.notADir, "");
  const d = (ctx.d = await startTestDaemon());
  ctx.node = await pairDevice(d, join(ctx.tmp.path, "node"), { name: "rack7" });
  ctx.other = await pairDevice(d, join(ctx.tmp.path, "other"), { name: "spare" });
  ctx.orch = await pairDevice(d, join(ctx.tmp.path, "orch"), { role: "orchestrator", name: "ci" });
  await admin(d, "SetLabels", { id: ctx.node, set: { site: "berlin", rack: "7" }, remove: [] });
  await admin(d, "SetLabels", { id: ctx.other, set: { site: "berlin" }, remove: [] });
  // a pending request: a handshake finished, not decided
  const code = await mintCode(d);
  const raw = rawPairing(d.listen);
  const h = await handshakeStart(raw, pinParts(code.code));
  ctx.request = (await handshakeFinish(raw, h)).requestId;
  raw.close();
  ctx.conn = connect(join(ctx.tmp.path, "node"), { daemon: d.listen });
  ctx.conn.handle("echo", (input) => input);
  await ctx.conn.start();
  await waitFor(async () => (await device(ctx.node)).online, "node online");
  const job = await tether(["dispatch", ctx.node, "echo", "--input", '{"hi":1}', "--json"]);
  assert.is(job.code, 0, job.stderr);
  ctx.job = (JSON.parse(job.stdout) as { id: string }).id;
});

G.after(async () => {
  await ctx.conn?.close();
  await ctx.d?.stop();
  ctx.tmp?.remove();
});

G("every command refuses an unknown flag with exit 2, naming it, before it runs", async () => {
  assert.ok(COMMANDS.length >= 35);
  for (const cmd of COMMANDS) {
    const r = await tether([...reach(cmd), "--bogus-flag"], nowhere());
    assert.is(r.code, 2, `tether ${cmd.name} --bogus-flag: ${r.stderr}`);
    assert.match(r.stderr, `unknown option --bogus-flag for tether ${cmd.name}`);
    assert.is(r.stdout, "", cmd.name);
  }
});

G("every command refuses a word it does not take with exit 2, naming it, before it runs", async () => {
  for (const cmd of COMMANDS.filter((c) => !c.args.some((a) => a.variadic))) {
    const r = await tether([...reach(cmd), ...cmd.args.filter((a) => a.optional).map(() => "y"), "extra-word"], nowhere());
    assert.is(r.code, 2, `tether ${cmd.name} … extra-word: ${r.stderr}`);
    // "audit extra-word": audit is also a group, so the word is an unknown audit command
    assert.match(r.stderr, cmd.name === "audit" ? 'unknown command "audit extra-word"' : `unexpected argument "extra-word": tether ${cmd.name} takes`);
  }
});

G("a refused command changes nothing: revoke, approve, label, ungrant with a stray word or flag", async () => {
  const before = JSON.stringify(await devices());
  for (const args of [
    ["devices", "revoke", ctx.node, "extra"],
    ["devices", "revoke", ctx.node, "--reasn", "typo"],
    ["pair", "approve", ctx.request, "extra"],
    ["pair", "reject", ctx.request, "--bogus"],
    ["devices", "label", ctx.node, "site=paris", "--remve", "rack"],
    ["devices", "ungrant", ctx.orch, "extra"],
    ["devices", "rotate", ctx.node, ctx.other],
  ]) {
    const r = await tether(args);
    assert.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
  }
  assert.is(JSON.stringify(await devices()), before);
  const { requests } = await admin<{ requests: PairRequest[] }>(ctx.d, "ListRequests", { state: "" });
  assert.is(requests.find((x) => x.id === ctx.request)?.state, "pending");
});

G("a mistyped subcommand of every group is exit 2 with the nearest command, and does not run the group's own command", async () => {
  const groups = [...new Set(COMMANDS.filter((c) => c.name.includes(" ")).map((c) => c.name.split(" ")[0] as string))];
  assert.ok(groups.length >= 7, groups.join(","));
  for (const g of groups) {
    const cmd = COMMANDS.find((c) => c.name.startsWith(`${g} `)) as Command;
    const verb = cmd.name.slice(g.length + 1);
    const typo = `${verb[1]}${verb[0]}${verb.slice(2)}`; // two letters swapped
    const r = await tether([g, typo]);
    assert.is(r.code, 2, `${g} ${typo}: ${r.stderr}`);
    assert.match(r.stderr, `unknown command "${g} ${typo}"`);
    assert.match(r.stderr, `\`${cmd.name}\``);
    assert.is(r.stdout, "");
  }
  // the example from the issue: "audit" is a command and a group
  const r = await tether(["audit", "verfy"]);
  assert.is(r.code, 2);
  assert.match(r.stderr, "did you mean `audit verify`?");
  assert.is(r.stdout, "", "the audit log was not listed");
});

G("suggestions: top-level words, a verb without its group, flags; --json names the word", async () => {
  const cases: [string[], string][] = [
    [["stauts"], "`status`"],
    [["devcies", "list"], "`devices`"],
    [["approve"], "`pair approve`"],
    [["devices", "list", "--onlin"], "`--online`"],
    [["pair", "list", "--stat", "pending"], "`--state`"],
    [["completion", "bsh"], "one of `bash`, `zsh`"],
  ];
  for (const [args, near] of cases) {
    const r = await tether(args);
    assert.is(r.code, 2, args.join(" "));
    assert.match(r.stderr, `did you mean ${near}?`, args.join(" "));
  }
  const j = await tether(["frobnicate", "--json"]);
  assert.is(j.code, 2);
  const e = (JSON.parse(j.stderr) as { error: { message: string; exitCode: number; word: string; suggestions: string[] } }).error;
  assert.is(e.word, "frobnicate");
  assert.equal(e.suggestions, []);
  assert.is(e.exitCode, 2);
  assert.match(e.message, /^unknown command "frobnicate"\n/);
  const s = JSON.parse((await tether(["devices", "lst", "--json"])).stderr) as { error: { word: string; suggestions: string[] } };
  assert.equal([s.error.word, s.error.suggestions], ["devices lst", ["devices list"]]);
  const f = JSON.parse((await tether(["devices", "list", "-o", "json", "--onlin"])).stderr) as { error: { word: string; suggestions: string[] } };
  assert.equal([f.error.word, f.error.suggestions], ["--onlin", ["--online"]]);
});

G("every --help: a usage line, every flag with its default, at least one example", async () => {
  for (const cmd of COMMANDS) {
    const r = await tether([...cmd.name.split(" "), "--help"], nowhere());
    assert.is(r.code, 0, cmd.name);
    assert.is(r.stdout, helpOf(cmd));
    const lines = r.stdout.split("\n");
    assert.ok(lines[0]?.startsWith(`Usage: tether ${cmd.name}`), lines[0]);
    const flagsAt = lines.indexOf("Flags:");
    const examplesAt = lines.indexOf("Examples:");
    assert.ok(flagsAt > 0 && examplesAt > flagsAt, cmd.name);
    // each flag's block: its label line and the continuation lines under it
    const blocks = lines
      .slice(flagsAt + 1, examplesAt - 1)
      .join("\n")
      .split(/\n(?= {2}-)/);
    for (const [name, f] of Object.entries(flagsOf(cmd))) {
      const block = blocks.find((b) => new RegExp(`^ {2}(-\\w, )?--${name}\\b`).test(b));
      assert.ok(block, `${cmd.name}: --${name} in help`);
      if (name !== "help") assert.match(block as string, f.required ? "(required)" : "default: ", `${cmd.name} --${name}`);
      if (f.choices) for (const c of f.choices) assert.match(block as string, c);
    }
    const examples = lines.slice(examplesAt + 1).filter((l) => l.startsWith("  tether ") || l.startsWith("  source ") || l.startsWith("  echo "));
    assert.ok(examples.length >= 1, `${cmd.name}: an example`);
  }
  // a group alone lists its commands; asked, exit 0, else 2
  const g = await tether(["devices", "--help"]);
  assert.is(g.code, 0);
  assert.match(g.stdout, "devices preauthorizations");
  assert.is((await tether(["devices"])).code, 2);
});

G("version: CLI, protocol and daemon versions, found through --data-dir or $TETHER_HOME; without a daemon it says so", async () => {
  for (const args of [["version"], ["version", "--data-dir", ctx.d.dataDir]]) {
    const r = await tether(args, args.length === 3 ? {} : { TETHER_HOME: ctx.d.dataDir });
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, `tether ${CLI_VERSION}\n`);
    assert.match(r.stdout, `tether.v1 (gRPC API), pairing handshake ${PAIR_PROTOCOL_VERSION}`);
    assert.match(r.stdout, `daemon:   ${DAEMON_VERSION} (${join(ctx.d.dataDir, "admin.sock")})`);
  }
  const j = JSON.parse((await tether(["version", "--json"], { TETHER_HOME: ctx.d.dataDir })).stdout) as {
    cli: string;
    protocol: { api: string; pairing: number };
    daemon: { version: string } | null;
  };
  assert.equal(j.protocol, { api: "tether.v1", pairing: PAIR_PROTOCOL_VERSION, pairingUri: "1" });
  assert.is(j.cli, CLI_VERSION);
  assert.is(j.daemon?.version, DAEMON_VERSION);

  const none = join(ctx.tmp.path, "no-daemon");
  const r = await tether(["version"], { TETHER_HOME: none });
  assert.is(r.code, 0);
  assert.match(r.stdout, `tether ${CLI_VERSION}\n`);
  assert.match(r.stdout, "daemon:   not reachable (cannot reach the daemon's admin socket");
  const nj = JSON.parse((await tether(["version", "--json", "--data-dir", none])).stdout) as { daemon: null; daemonError: string };
  assert.is(nj.daemon, null);
  assert.match(nj.daemonError, "cannot reach");
});

G("--version: the CLI's version alone, without asking the running daemon; it takes only --json", async () => {
  const r = await tether(["--version"], { TETHER_HOME: ctx.d.dataDir });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `tether ${CLI_VERSION}\n`);
  const j = await tether(["--version", "--json"], { TETHER_HOME: ctx.d.dataDir });
  assert.equal(JSON.parse(j.stdout), { cli: CLI_VERSION });
  for (const args of [
    ["--version", "--data-dir", ctx.d.dataDir],
    ["--version", "extra"],
    ["--version", "--json", "--json"],
  ]) {
    const bad = await tether(args);
    assert.is(bad.code, 2, args.join(" "));
    assert.is(bad.stdout, "");
    assert.match(bad.stderr, "tether --version takes only --json");
    assert.match(bad.stderr, "tether version [--data-dir DIR]");
  }
});

/**
 * Source the bash script and run _tether once per case: each case's words, the last the one
 * being completed. Not execFileSync: the daemon in this process must answer `__complete`.
 */
async function bashComplete(script: string, cases: string[][]): Promise<string[]> {
  const file = join(ctx.tmp.path, "tether.bash");
  writeFileSync(file, script);
  const driver = [
    `source ${JSON.stringify(file)}`,
    't() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _tether; printf "%s\\n" "${COMPREPLY[*]}"; }',
    ...cases.map((words) => `t ${words.map((w) => `'${w}'`).join(" ")}`),
  ].join("\n");
  const { stdout: out } = await promisify(execFile)("bash", ["--norc", "--noprofile", "-c", driver], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", HOME: ctx.tmp.path, TETHER_HOME: join(ctx.tmp.path, "no-daemon") },
  });
  return out.split("\n").slice(0, cases.length);
}

G("completion bash: commands, subcommands, flags, choices, and live values from the daemon (none without one)", async () => {
  const r = await tether(["completion", "bash"]);
  assert.is(r.code, 0);
  const dd = ctx.d.dataDir;
  const got = await bashComplete(r.stdout, [
    ["tether", "aud"],
    ["tether", "audit", "ver"],
    ["tether", "devices", "list", "--on"],
    ["tether", "devices", "list", "--role", ""],
    ["tether", "devices", "list", "-o", ""],
    ["tether", "completion", ""],
    ["tether", "pair", "approve", "x", "--role", "orc"],
    ["tether", "frobnicate", ""],
    [BIN, "pair", "approve", "--data-dir", dd, ""],
    [BIN, "devices", "revoke", "--data-dir", dd, "dev_"],
    [BIN, "devices", "ungrant", "--data-dir", dd, ""],
    [BIN, "dispatch", "--data-dir", dd, ctx.node, ""],
    [BIN, "pair", "approve", ""],
  ]);
  assert.equal(got.slice(0, 8), ["audit", "verify", "--online", "node orchestrator", "json table wide", "bash zsh fish", "orchestrator", ""]);
  assert.is(got[8], ctx.request, "pending request ids");
  assert.equal(got[9]?.split(" ").sort(), [ctx.node, ctx.other, ctx.orch].sort(), "device ids");
  assert.is(got[10], ctx.orch, "only orchestrators for ungrant");
  assert.is(got[11], "echo", "the capabilities that device announced");
  assert.is(got[12], "", "no daemon: no candidates, no error");
});

G("completion fish completes for real; zsh and fish scripts parse", async () => {
  const fish = (await tether(["completion", "fish"])).stdout;
  const zsh = (await tether(["completion", "zsh"])).stdout;
  const fishFile = join(ctx.tmp.path, "tether.fish");
  const zshFile = join(ctx.tmp.path, "_tether");
  writeFileSync(fishFile, fish);
  writeFileSync(zshFile, zsh);
  const have = (sh: string) => spawnSync(sh, ["-c", "exit 0"]).status === 0;
  if (have("fish")) {
    assert.is(spawnSync("fish", ["--no-execute", fishFile], { encoding: "utf8" }).status, 0, "fish -n");
    const out = execFileSync("fish", ["--no-config", "-c", `source ${fishFile}; complete -C 'tether devices li'; complete -C 'tether devices list --ro'`], { encoding: "utf8" });
    assert.match(out, /^list\tlist paired devices$/m);
    assert.match(out, /^--role\tonly devices of this role$/m);
  } else console.log("  (fish is not installed: fish checks skipped)");
  if (have("zsh")) {
    const z = spawnSync("zsh", ["-n", zshFile], { encoding: "utf8" });
    assert.is(z.status, 0, `zsh -n: ${z.stderr}`);
  } else console.log("  (zsh is not installed: zsh -n skipped)");
  // the hidden live-value command prints value<TAB>about, and nothing (exit 0) without a daemon
  const live = await tether(["__complete", "requests"]);
  assert.is(live.stdout.split("\t")[0], ctx.request);
  const none = await tether(["__complete", "devices"], { TETHER_HOME: join(ctx.tmp.path, "no-daemon") });
  assert.equal([none.code, none.stdout, none.stderr], [0, "", ""]);
  assert.not.match((await tether(["--help"])).stdout, "__complete");
});

G("-o json|table|wide on list and show commands; -o json is --json; a bad or conflicting format is exit 2", async () => {
  for (const words of [
    ["devices", "list"],
    ["devices", "show", ctx.node],
    ["pair", "list"],
    ["jobs", "list"],
    ["jobs", "show", ctx.job],
    ["audit"],
    ["devices", "preauthorizations"],
  ]) {
    const [json, oJson, table, wide] = await Promise.all([
      tether([...words, "--json"]),
      tether([...words, "-o", "json"]),
      tether([...words, "-o", "table"]),
      tether([...words, "--output=wide"]),
    ]);
    assert.is(json.code, 0, `${words.join(" ")}: ${json.stderr}`);
    assert.equal(JSON.parse(oJson.stdout), JSON.parse(json.stdout), words.join(" "));
    assert.is(table.code, 0);
    assert.is(wide.code, 0);
    assert.is(table.stdout, (await tether(words)).stdout, "table is the default");
    assert.throws(() => {
      JSON.parse(table.stdout);
    });
  }
  const wide = (await tether(["devices", "list", "-o", "wide"])).stdout;
  assert.match(wide.split("\n")[0] as string, /LABELS\s+PLATFORM\s+VERSION/);
  assert.not.match((await tether(["devices", "list"])).stdout.split("\n")[0] as string, "LABELS");
  assert.match((await tether(["audit", "-o", "wide"])).stdout.split("\n")[0] as string, /PREV\s+HASH$/);
  assert.match((await tether(["jobs", "list", "-o", "wide"])).stdout.split("\n")[0] as string, "DEADLINE");
  const bad = await tether(["devices", "list", "-o", "yaml"]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, '--output must be json, table or wide, not "yaml"');
  assert.is((await tether(["devices", "list", "--json", "-o", "table"])).code, 2);
});

G("devices list --online, --role, --label KEY=VALUE (repeatable), together", async () => {
  const ids = async (...args: string[]) => {
    const r = await tether(["devices", "list", "--json", ...args]);
    assert.is(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Device[]).map((x) => x.id).sort();
  };
  assert.equal(await ids("--online"), [ctx.node]);
  assert.equal(await ids("--role", "orchestrator"), [ctx.orch]);
  assert.equal(await ids("--role", "node"), [ctx.node, ctx.other].sort());
  assert.equal(await ids("--label", "site=berlin"), [ctx.node, ctx.other].sort());
  assert.equal(await ids("--label", "site=berlin", "--label", "rack=7"), [ctx.node]);
  assert.equal(await ids("--label", "site=paris"), []);
  assert.equal(await ids("--online", "--role", "orchestrator"), []);
  assert.match((await tether(["devices", "list", "--label", "site=paris"])).stdout, "no paired device matches");
  const bad = await tether(["devices", "list", "--label", "site"]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, '--label "site" is not KEY=VALUE');
  assert.is((await tether(["devices", "list", "--role", "admin"])).code, 2);
});

G("human output shows every time as RFC 3339", async () => {
  const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  // anything that looks like a date, and what follows it up to a space
  const DATEISH = /\d{4}-\d{2}-\d{2}[^\s,)"}\]]*/g;
  const commands = [
    ["status"],
    ["devices", "list", "-o", "wide"],
    ["devices", "show", ctx.node],
    ["pair", "list", "-o", "wide"],
    ["jobs", "list", "-o", "wide"],
    ["jobs", "show", ctx.job],
    ["audit", "--limit", "20"],
  ];
  for (const args of commands) {
    const r = await tether(args);
    assert.is(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    const times = r.stdout.match(DATEISH) ?? [];
    assert.ok(times.length > 0, `${args.join(" ")} shows a time`);
    for (const t of times) assert.match(t, RFC3339, `${args.join(" ")}: ${t}`);
    // no time left as milliseconds since the epoch (13 digits)
    assert.not.match(r.stdout.replace(/"[^"]*"/g, ""), /\b1\d{12}\b/, args.join(" "));
  }
});

G.run();
