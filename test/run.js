#!/usr/bin/env node
// Runs every test file with uvu under tsx and ends with the plain line "N passed, N failed".
// Each file runs in its own process so that one file's leaked handle cannot hang the others.
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

let passed = 0;
let failed = 0;
for (const f of files) {
  const started = Date.now();
  const { code, out } = await new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "node_modules/uvu/bin.js"), "test", `^${f.replace(/\./g, "\\.")}$`], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "FORCE_COLOR")), NO_COLOR: "1", NODE_DISABLE_COLORS: "1" },
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d) => {
      out += d;
      process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      out += `\n${f}: timed out after ${FILE_TIMEOUT_MS} ms\n`;
      child.kill("SIGKILL");
    }, FILE_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  let bad = total - ok - skipped;
  if (code !== 0 && bad === 0) bad = 1; // crashed or hung before uvu could count
  passed += ok;
  failed += bad;
  console.log(`# ${f}: ${ok} passed, ${bad} failed (${Date.now() - started} ms)`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
