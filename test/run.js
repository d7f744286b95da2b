#!/usr/bin/env node
// Runs every test file with uvu under tsx and ends with the plain line "N passed, N failed".
// Each file runs in its own process so that one file's leaked handle cannot hang the others.
// Long-running files (`*.soak.test.ts`, minutes of real time, little CPU) start first and run
// alongside the others; their output is printed when they finish.
//   node test/run.js [REGEX]   only the files whose name matches
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const files = readdirSync(join(root, "test"))
  .filter((f) => f.endsWith(".test.ts") && (!filter || filter.test(f)))
  .sort();
const FILE_TIMEOUT_MS = Number(process.env.TETHER_TEST_FILE_TIMEOUT_MS ?? 180_000);
const SOAK_TIMEOUT_MS = Number(process.env.TETHER_SOAK_TIMEOUT_MS ?? 900_000);
const isSoak = (f) => f.endsWith(".soak.test.ts");

function runFile(f, { live, timeoutMs }) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "node_modules/uvu/bin.js"), "test", `^${f.replace(/\./g, "\\.")}$`, "--no-color"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "FORCE_COLOR")), NO_COLOR: "1", NODE_DISABLE_COLORS: "1" },
    });
    let out = "";
    const take = (stream) => (d) => {
      out += d;
      if (live) stream.write(d);
    };
    child.stdout.on("data", take(process.stdout));
    child.stderr.on("data", take(process.stderr));
    const timer = setTimeout(() => {
      out += `\n${f}: timed out after ${timeoutMs} ms\n`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (!live) process.stdout.write(out);
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
      let bad = total - ok - skipped;
      if (code !== 0 && bad === 0) bad = 1; // crashed or hung before uvu could count
      console.log(`# ${f}: ${ok} passed, ${bad} failed (${Date.now() - started} ms)`);
      resolve({ ok, bad });
    });
  });
}

const background = files.filter(isSoak).map((f) => runFile(f, { live: false, timeoutMs: SOAK_TIMEOUT_MS }));
if (background.length) console.log(`# started in the background: ${files.filter(isSoak).join(", ")}`);
const results = [];
for (const f of files.filter((x) => !isSoak(x))) results.push(await runFile(f, { live: true, timeoutMs: FILE_TIMEOUT_MS }));
results.push(...(await Promise.all(background)));
const passed = results.reduce((n, r) => n + r.ok, 0);
const failed = results.reduce((n, r) => n + r.bad, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
