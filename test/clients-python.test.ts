/**
 * docs/clients.md's Python recipe, run for real: /usr/bin/python3 with grpcio (python3-grpcio)
 * as an orchestrator calling ListNodes over mutual TLS with the files of its state directory,
 * across a renewal by another process (`tether node renew --exec`, daemon certificates of one
 * minute) whose hook makes it reload. It keeps working after the overlap; the same program
 * without the hook is refused once the overlap is over.
 */
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT, cli, pairDevice, startTestDaemon, tempDir, waitFor } from "./helpers.ts";

const PYTHON = "/usr/bin/python3";
/** shortened for the test (RENEWAL_OVERLAP_MS is 2 minutes) */
const OVERLAP_MS = 3000;

/** The recipe exactly as docs/clients.md prints it. */
function recipe(): string {
  const m = /```python\n("""A tether orchestrator in Python[\s\S]*?)```/.exec(readFileSync(join(ROOT, "docs", "clients.md"), "utf8"));
  if (!m) throw new Error("docs/clients.md has no Python orchestrator recipe");
  return m[1] as string;
}

/** The recipe as a child process; its output lines, each with the time it arrived. */
function python(script: string, stateDir: string) {
  const child = spawn(PYTHON, [script, stateDir, "0.2"], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: { at: number; text: string }[] = [];
  let buf = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    for (const text of parts) lines.push({ at: Date.now(), text });
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  return { child, lines, err: () => err, exited };
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase();

test("a Python grpcio orchestrator that reloads on the renewal hook keeps working past the overlap", async () => {
  assert.ok(existsSync(PYTHON), `${PYTHON} is needed (apt-get install python3 python3-grpcio; test/ensure-tools.sh)`);
  const d = await startTestDaemon({ nodeCertLifetimeMs: 60_000, renewalOverlapMs: OVERLAP_MS });
  const tmp = tempDir();
  const procs: ReturnType<typeof python>[] = [];
  try {
    const dir = join(tmp.path, "orch");
    await pairDevice(d, dir, { role: "orchestrator", name: "py-orch" });
    const script = join(tmp.path, "orchestrator.py");
    writeFileSync(script, recipe());
    const before = fingerprint(readFileSync(join(dir, "cert.pem"), "utf8"));
    const reloading = python(script, dir);
    const stubborn = python(script, dir); // the same program, never told to reload
    procs.push(reloading, stubborn);
    for (const p of procs) {
      await waitFor(() => p.lines.some((l) => l.text.startsWith(`ok ${before} `)) || p.child.exitCode !== null, "the Python orchestrator's first ListNodes");
      assert.ok(p.child.exitCode === null, `python exited: ${p.err()}`);
    }

    // another process renews the state directory and runs the hook
    const r = await cli(["node", "renew", "--force", "--state-dir", dir, "--exec", `kill -HUP ${reloading.child.pid}`, "--json"]);
    assert.is(r.code, 0, r.stderr);
    const renewed = JSON.parse(r.stdout) as { renewed: boolean; fingerprint: string; hook: { ok: boolean } };
    const renewedAt = Date.now();
    assert.ok(renewed.renewed);
    assert.equal(renewed.hook, { ok: true });
    const after = renewed.fingerprint;
    assert.is.not(after, before);
    assert.is(fingerprint(readFileSync(join(dir, "cert.pem"), "utf8")), after);

    await waitFor(() => reloading.lines.some((l) => l.text === `reloaded ${after}`), "the hook's SIGHUP to reach the Python orchestrator");
    // past the overlap: the old certificate is refused from now on
    await sleep(OVERLAP_MS + 1500);
    const end = reloading.lines.length;
    await waitFor(() => reloading.lines.length >= end + 5, "more calls after the overlap");
    await waitFor(() => stubborn.lines.some((l) => l.text.startsWith("error ")), "the orchestrator that did not reload to be refused");

    const failures = reloading.lines.filter((l) => !/^(ok|reloaded) /.test(l.text));
    assert.equal(failures, [], "every call of the reloading orchestrator succeeded");
    const late = reloading.lines.filter((l) => l.at > renewedAt + OVERLAP_MS + 1000);
    assert.ok(late.length >= 5, `calls after the overlap: ${late.length}`);
    for (const l of late) assert.is(l.text.split(" ").slice(0, 2).join(" "), `ok ${after}`, "after the overlap it calls with the new certificate");

    const refused = stubborn.lines.find((l) => l.text.startsWith("error ")) as { at: number; text: string };
    assert.match(refused.text, new RegExp(`^error ${before} UNAUTHENTICATED CERT_NOT_CURRENT`));
    assert.ok(refused.at >= renewedAt + OVERLAP_MS - 500, "refused only once the overlap is over");
    console.log(`    reloading orchestrator: ${reloading.lines.length} lines, no failure; the other refused ${refused.at - renewedAt} ms after the renewal`);
  } finally {
    for (const p of procs) p.child.kill("SIGTERM");
    await Promise.all(procs.map((p) => p.exited));
    await d.stop();
    tmp.remove();
  }
});

test.run();
