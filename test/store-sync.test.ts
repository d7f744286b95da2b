/**
 * The store's durability promise, observed rather than assumed: a real Store on a real
 * LevelDB runs in a child process under `strace -f -e trace=fsync,fdatasync`, and the test
 * counts the syncs of LevelDB's write-ahead log (`*.log`) between markers the child leaves
 * in the trace. A batch is fsynced before it resolves unless it asked for `sync: false`, and
 * a group commit is fsynced when any batch in it asked for that (issue 16, planted bug 6).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT, tempDir } from "./helpers.ts";

/**
 * The child: each phase starts with an fsync of a file named `mark-PHASE`, which shows in the
 * trace in order with the store's own syncs (a batch resolves only after its sync returned).
 */
const CHILD = `
import { closeSync, fsyncSync, openSync } from "node:fs";
import { Store } from "@tether/store";
const dir = process.env.SYNC_TEST_DIR;
const s = await Store.open(dir + "/store", ["t"]);
const mark = (name) => { const fd = openSync(dir + "/mark-" + name, "w"); fsyncSync(fd); closeSync(fd); };
let n = 0;
const put = (o) => s.batch([{ table: "t", type: "put", value: { id: "k" + n++, v: "x".repeat(100) } }], o);
mark("default");
for (let i = 0; i < 5; i++) await put();
mark("explicit");
for (let i = 0; i < 5; i++) await put({ sync: true });
mark("unsynced");
for (let i = 0; i < 5; i++) await put({ sync: false });
// The first batch is written at once; the next two wait for it and are committed together.
mark("group");
await Promise.all([put({ sync: false }), put({ sync: true }), put({ sync: false })]);
mark("group-unsynced");
await Promise.all([put({ sync: false }), put({ sync: false }), put({ sync: false })]);
mark("end");
await s.close();
`;

type Counts = Record<string, number>;

/** Run the child under strace; count the syncs of LevelDB log files in each phase. */
function traceChild(dir: string): Promise<{ counts: Counts; trace: string }> {
  const out = `${dir}/strace.txt`;
  return new Promise((resolve, reject) => {
    const child = spawn("strace", ["-f", "-y", "-qq", "-e", "trace=fsync,fdatasync", "-o", out, process.execPath, "--import", "tsx", "--input-type=module", "-e", CHILD], {
      cwd: ROOT,
      env: { ...process.env, SYNC_TEST_DIR: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("error", (e) => reject(new Error(`cannot run strace (install it: apt-get install strace; test/ensure-tools.sh does): ${e.message}`)));
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`the traced child exited ${code}: ${err}`));
      const trace = readFileSync(out, "utf8");
      const counts: Counts = {};
      let phase = "open";
      for (const line of trace.split("\n")) {
        const m = /\b(?:fsync|fdatasync)\(\d+<([^>]*)>/.exec(line);
        if (!m) continue;
        const path = m[1] as string;
        const marker = /\/mark-([a-z-]+)$/.exec(path);
        if (marker) phase = marker[1] as string;
        else if (path.startsWith(`${dir}/store/`) && path.endsWith(".log")) counts[phase] = (counts[phase] ?? 0) + 1;
      }
      resolve({ counts, trace });
    });
  });
}

test("store batches are fsynced unless they opt out, and a group commit is fsynced if any batch in it asked", async () => {
  const tmp = tempDir();
  try {
    const { counts, trace } = await traceChild(tmp.path);
    const c = (phase: string) => counts[phase] ?? 0;
    const seen = `log syncs by phase: ${JSON.stringify(counts)}`;
    assert.ok(/mark-end>/.test(trace), `the markers are in the trace (${seen})`);
    assert.ok(c("default") >= 5, `5 default batches, each durable before it resolves: ${seen}`);
    assert.ok(c("explicit") >= 5, `5 batches with sync: true: ${seen}`);
    assert.is(c("unsynced"), 0, `batches with sync: false are not fsynced: ${seen}`);
    assert.ok(c("group") >= 1, `a group with one synced batch among unsynced ones is fsynced: ${seen}`);
    assert.is(c("group-unsynced"), 0, `a group of unsynced batches is not: ${seen}`);
  } finally {
    tmp.remove();
  }
});

test.run();
