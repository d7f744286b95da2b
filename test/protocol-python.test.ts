/**
 * docs/protocol.md checked by an independent implementation: test/independent/check_protocol.py
 * (pure Python standard library, written from the document's text only) checks its primitives
 * against the CPace draft vectors, recomputes every Appendix A value and compares it, and the
 * example bytes printed in §§3–9, with what the document prints; and the renewal key proof of
 * docs/fleet.md §5A.1 (signed bytes recomputed, the printed proof verified with its own P-256).
 */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

const root = dirname(dirname(fileURLToPath(import.meta.url)));

test("independent Python implementation reproduces docs/protocol.md values", () => {
  let output = "";
  let status = 0;
  try {
    output = execFileSync("/usr/bin/env", ["python3", join("test", "independent", "check_protocol.py")], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string; message?: string };
    status = typeof e.status === "number" ? e.status : -1;
    output = `${e.stdout ?? ""}${e.stderr ?? ""}` || String(e.message);
  }
  const mismatches = output
    .split("\n")
    .filter((l) => !l.startsWith("ok "))
    .join("\n");
  assert.is(status, 0, `check_protocol.py exited ${status}:\n${mismatches}`);
  assert.match(output, /^all values match$/m);
});

test.run();
