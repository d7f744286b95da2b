/**
 * README.md's "Try it: the whole journey" block, run as written: extracted from the README,
 * run by bash (with -e, so every step must succeed) at the repository root, with a temp HOME
 * and TMPDIR. It must succeed, and leave nothing behind: no process (its process group is
 * gone, and no process anywhere names its temp dir), no file in HOME or in the checkout, and
 * nothing in TMPDIR but tsx's compile cache (the block removes its own folder).
 */
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ROOT, tempDir } from "./helpers.ts";

const J = suite("README: the whole journey, as written");

/** The first ```sh block after the heading. */
function shellBlock(markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no heading ${JSON.stringify(heading)}`);
  const m = /```sh\n([\s\S]*?)```/.exec(markdown.slice(at));
  if (!m?.[1]) throw new Error(`no sh block after ${heading}`);
  return m[1];
}

/** Processes (other than this one) whose command line or environment mentions `text`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    for (const f of ["cmdline", "environ"]) {
      try {
        if (readFileSync(`/proc/${pid}/${f}`, "latin1").includes(text)) {
          found.push(`${pid}: ${readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0/g, " ")}`);
          break;
        }
      } catch {
        // gone, or not ours to read
      }
    }
  }
  return found;
}

/**
 * The processes of process group `pgid` that are still running: a zombie is not (an exited
 * helper, such as tsx's esbuild, reparented to PID 1 and not reaped yet).
 */
function runningInGroup(pgid: number): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ")".
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") found.push(`${pid} ${stat.slice(0, stat.lastIndexOf(")") + 1)}`);
    } catch {
      // gone
    }
  }
  return found;
}

J("the README's journey succeeds as written and leaves no process and no file behind", async () => {
  const block = shellBlock(readFileSync(join(ROOT, "README.md"), "utf8"), "## Try it: the whole journey");
  // The one poll loop is waitfor's (until a file holds a text, failing if the process ends first).
  const waitfor = /^waitfor\(\) \{ until grep -q "\$1" "\$2" .*kill -0 "\$3" .*return 1; \}; sleep 0\.2; done; \}$/m;
  assert.match(block, waitfor);
  assert.not.match(block.replace(waitfor, ""), /\bsleep\b/, "no blind sleeps: every wait is a waitfor on a state");
  assert.not.match(block, /~\/\.tether|\$HOME/, "the block does not touch ~/.tether");
  const tmp = tempDir("tether-readme-");
  const home = join(tmp.path, "home");
  const tmpdir = join(tmp.path, "tmp");
  mkdirSync(home);
  mkdirSync(tmpdir);
  const gitStatus = () => execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: ROOT, encoding: "utf8" });
  const before = gitStatus();
  const { TETHER_HOME: _h, TETHER_NODE_HOME: _n, FORCE_COLOR: _c, ...env } = process.env;
  const bash = spawn("bash", ["-e", "-u", "-o", "pipefail", "-c", block], {
    cwd: ROOT,
    env: { ...env, HOME: home, TMPDIR: tmpdir },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: whatever it starts can be found, and killed on failure
  });
  const pgid = bash.pid as number;
  let out = "";
  bash.stdout.on("data", (d) => (out += d));
  bash.stderr.on("data", (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => process.kill(-pgid, "SIGKILL"), 150_000);
    bash.on("close", (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  try {
    assert.is(code, 0, `the journey failed (exit ${code}):\n${out}`);
    // What the journey shows along the way.
    assert.match(out, /approved req_[0-9a-f]+: device dev_\S+ \(worker\) as node\n {2}verification code: \d{3}-\d{3} \(matches the one given\)/);
    assert.match(out, /approved req_[0-9a-f]+: device dev_\S+ \(boss\) as orchestrator/);
    assert.match(out, /\/node\/cert\.pem: OK\n/);
    assert.match(out, /\{\n {2}"hello": "world"\n\}/);
    assert.match(out, /node run exited with 8\ntether: an admin revoked this device \(dev_\S+\).*tether devices unrevoke dev_/);
    // Nothing left running.
    assert.equal(runningInGroup(pgid), [], "no process of the journey is still running");
    assert.equal(processesMentioning(tmp.path), [], "no process names the journey's folders");
    // Nothing left on disk outside its own (removed) folder.
    assert.equal(readdirSync(home), [], "nothing written to HOME (no ~/.tether, no ~/.tether-node)");
    assert.equal(
      readdirSync(tmpdir).filter((f) => !f.startsWith("tsx-")),
      [],
      "the journey removed its temp folder",
    );
    assert.is(gitStatus(), before, "nothing written into the checkout");
  } finally {
    if (runningInGroup(pgid).length) process.kill(-pgid, "SIGKILL");
    tmp.remove();
  }
});

J("the README starts with the two commands of a fresh clone: npm install && npm start, then npm test", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const first = /```sh\n([^]*?)```/.exec(readme)?.[1] ?? "";
  const commands = first
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
  assert.equal(commands, ["npm install && npm start", "npm test"]);
  assert.ok(readme.indexOf(first) < readme.indexOf("\n## "), "the block comes before the first section");
});

J.run();
