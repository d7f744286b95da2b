/**
 * A damaged store is refused at start, and a failed write fails closed, against the real
 * daemon (bin/tether as a child process) and real LevelDB files damaged on disk:
 *
 * - a write-ahead log damaged in the middle (LevelDB skips the bytes and says so in its LOG);
 * - a write-ahead log with its tail cut off (LevelDB takes it for a crash: only the lost-writes
 *   witness shows it);
 * - one hex digit of a device's certificate fingerprint changed inside a table file (LevelDB
 *   reads it back as it is: only the record's checksum shows it);
 *
 * each time: the daemon exits 14 naming the problem and `tether store check`/`repair`; check
 * reports it; repair shows its plan and changes nothing without --yes; after `repair --yes` the
 * daemon starts and logs what the repair dropped. (A full disk: store-full-disk.test.ts.)
 */
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { Level } from "level";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@tether/node";
import { JOB_TABLES } from "@tether/jobs";
import { PAIRING_TABLES } from "@tether/pairing";
import { AUDIT_TABLES } from "@tether/audit";
import { Store } from "@tether/store";
import type { Job } from "@tether/wire";
import { rpc } from "../packages/cli/src/cli.ts";
import { cli, pairDevice, spawnCli, startDaemonProcess, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { CliResult } from "./helpers.ts";

const S = suite("store damage");
const ctx = {} as { tmp: ReturnType<typeof tempDir>; template: string; nodeDir: string; device: string; fingerprint: string; jobs: string[] };
const JOBS = 20;
const TABLES = [...PAIRING_TABLES, ...JOB_TABLES, ...AUDIT_TABLES];

const json = <T>(r: CliResult): T => JSON.parse(r.stdout) as T;
const storeFiles = (data: string, ext: string) =>
  readdirSync(join(data, "store"))
    .filter((f) => f.endsWith(ext))
    .map((f) => join(data, "store", f));

/** daemons still running (stopped in `after` if a test failed half way) */
const running = new Set<ReturnType<typeof spawnCli>>();

/** Run the daemon until it is ready or exits; returns its exit code (null: it is running) and output. */
async function tryStart(data: string, env: NodeJS.ProcessEnv = {}) {
  const d = spawnCli(["daemon", "--data-dir", data, "--listen", "127.0.0.1:0"], env);
  running.add(d);
  void d.exited.then(() => running.delete(d));
  const up = await waitFor(() => (d.out().includes("tether daemon listening on") ? "up" : d.child.exitCode !== null ? "exited" : undefined), "the daemon to start or exit", 30_000);
  if (up === "exited") return { code: await d.exited, err: d.err(), d };
  return { code: null, err: d.err(), d };
}

/** Start the daemon expecting it to refuse (stopping it if it does not). */
async function expectRefused(data: string, label: string) {
  const r = await tryStart(data);
  if (r.code === null) await stopDaemonProcess(r.d);
  assert.is(r.code, 14, `the daemon exits 14 on a damaged store (${label}); stderr: ${r.err}`);
  return r.err;
}

const run = (data: string, deviceId: string, i: number) =>
  rpc<Job>("Orchestrator", { kind: "socket", dataDir: data }, "Run", { deviceId, capability: "echo", input: Buffer.from(JSON.stringify({ i })), timeoutMs: 0, idempotencyKey: "" });

async function jobsFound(data: string): Promise<number> {
  let n = 0;
  for (const id of ctx.jobs) {
    const ok = await rpc<Job>("Orchestrator", { kind: "socket", dataDir: data }, "GetJob", { id }).then(
      () => true,
      (e: Error & { exitCode?: number }) => (e.exitCode === 4 ? false : Promise.reject(e)),
    );
    if (ok) n++;
  }
  return n;
}

S.before(async () => {
  ctx.tmp = tempDir("tether-damage-");
  // One store, written through the daemon: a paired node that ran 20 jobs. Each case damages a copy.
  ctx.template = join(ctx.tmp.path, "template");
  ctx.nodeDir = join(ctx.tmp.path, "node");
  const { d, ready } = await startDaemonProcess(ctx.template);
  try {
    ctx.device = await pairDevice({ dataDir: ctx.template, listen: ready.listen }, ctx.nodeDir, { name: "damaged-node" });
    const c = connect(ctx.nodeDir, { daemon: ready.listen });
    c.handle("echo", (x) => x);
    c.on("fatal", () => undefined);
    await c.start();
    ctx.jobs = [];
    for (let i = 0; i < JOBS; i++) {
      const j = await run(ctx.template, ctx.device, i);
      assert.is(j.state, "succeeded");
      ctx.jobs.push(j.id);
    }
    await c.close();
    const dev = await rpc<{ certificateFingerprint: string }>("Admin", { kind: "socket", dataDir: ctx.template }, "GetDevice", { id: ctx.device });
    ctx.fingerprint = dev.certificateFingerprint;
  } finally {
    assert.is(await stopDaemonProcess(d), 0);
  }
});

S.after(async () => {
  for (const d of running) await stopDaemonProcess(d);
  ctx.tmp.remove();
});

/** Files a repair would change: a plan must leave them as they are. */
const sidecars = (data: string) => ["tether-witness", "tether-damage.json"].map((f) => (existsSync(join(data, "store", f)) ? readFileSync(join(data, "store", f), "latin1") : ""));

type Repair = {
  applied: boolean;
  actions: { action: string; message: string }[];
  auditEntry?: number;
  after?: { damaged: boolean; problems: { message: string }[]; notes: string[] };
};

/** The common end of each damage case: refused, checked, planned, repaired, started. */
async function refusedThenRepaired(data: string, what: RegExp, label: string, o: { again?: boolean } = {}) {
  const first = await expectRefused(data, label);
  assert.match(first, what);
  assert.match(first, /tether store check --data-dir/);
  assert.match(first, /tether store repair --data-dir/);
  // refused again: the evidence LevelDB's recovery removed is kept in tether-damage.json
  if (o.again) {
    assert.match(await expectRefused(data, `${label}, again`), what);
    const human = await cli(["store", "check", "--data-dir", data]);
    assert.is(human.code, 14);
    assert.match(human.stdout, /DAMAGED/);
    assert.match(human.stdout, /Next: tether store repair/);
  }

  const check = await cli(["store", "check", "--data-dir", data, "--json"]);
  assert.is(check.code, 14, check.stderr);
  const report = json<{ damaged: boolean; problems: { kind: string; message: string }[] }>(check);
  assert.ok(report.damaged);
  assert.ok(
    report.problems.some((p) => what.test(p.message)),
    JSON.stringify(report.problems),
  );

  const files = sidecars(data);
  const plan = await cli(["store", "repair", "--data-dir", data, "--json"]);
  assert.is(plan.code, 14, plan.stderr);
  const planned = json<Repair>(plan);
  assert.is(planned.applied, false);
  assert.ok(planned.actions.length > 0);
  assert.equal(sidecars(data), files, "a plan without --yes changes nothing");

  const done = await cli(["store", "repair", "--data-dir", data, "--yes", "--json"]);
  assert.is(done.code, 0, done.stdout + done.stderr);
  const repaired = json<Repair>(done);
  assert.ok(repaired.applied && repaired.auditEntry);
  assert.not.ok(repaired.after?.damaged, JSON.stringify(repaired.after));

  const second = await tryStart(data);
  const found = second.code === null ? await jobsFound(data) : -1;
  const verify = second.code === null ? await cli(["audit", "verify", "--data-dir", data, "--json"]) : undefined;
  if (second.code === null) assert.is(await stopDaemonProcess(second.d), 0);
  // whatever the repair had to accept, the audit chain verifies after it (accepted breaks listed)
  assert.is(verify?.code, 0, verify?.stdout);
  const audit = JSON.parse(verify?.stdout ?? "{}") as { ok: boolean; gaps: { at: number; acceptedBy: number }[] };
  assert.is(second.code, null, `starts after the repair: ${second.err}`);
  const said = /"msg":"the store was repaired[^\n]*/.exec(second.err)?.[0] ?? "";
  assert.match(said, /droppedRecords/, "the daemon's log says what the repair dropped");
  console.log(
    `  ${label}:\n    start: ${first.trim().split("\n").join("\n    ")}\n    repair: ${repaired.actions.map((a) => a.message).join("\n            ")}\n` +
      `    after: ${[...(repaired.after?.problems ?? []).map((p) => p.message), ...(repaired.after?.notes ?? [])].join("; ") || "clean"}\n    start after the repair logs: ${said}\n    ${found} of ${JOBS} jobs found`,
  );
  return { planned, found, audit };
}

S("a write-ahead log damaged in the middle: refused at start, named, repaired", async () => {
  const data = join(ctx.tmp.path, "wal-middle");
  cpSync(ctx.template, data, { recursive: true });
  const [log] = storeFiles(data, ".log");
  const bytes = readFileSync(log as string);
  for (let i = 0; i < 64; i++) bytes.writeUInt8(bytes.readUInt8((bytes.length >> 1) + i) ^ 0x5a, (bytes.length >> 1) + i);
  writeFileSync(log as string, bytes);
  const { planned, audit } = await refusedThenRepaired(data, /write-ahead log \d+\.log was damaged: LevelDB skipped \d+ bytes/, "WAL damaged in the middle", { again: true });
  // The entries lost from the middle leave a break the repair accepted: verify lists it.
  assert.ok(
    planned.actions.some((a) => a.action === "accept-audit-gap"),
    JSON.stringify(planned.actions),
  );
  assert.ok(audit.ok);
  assert.ok(audit.gaps.length >= 1, "the accepted break is listed");
  assert.ok(audit.gaps.every((g) => g.acceptedBy > g.at));
  assert.ok(planned.actions.some((a) => a.action === "accept-lost-writes"));
  assert.ok(
    planned.actions.some((a) => a.action === "rebuild-index"),
    "the indexes are rebuilt after a loss in the middle",
  );
});

S("a write-ahead log with its tail cut by 30 %: the lost-writes witness shows it", async () => {
  const data = join(ctx.tmp.path, "wal-tail");
  cpSync(ctx.template, data, { recursive: true });
  const [log] = storeFiles(data, ".log");
  truncateSync(log as string, Math.floor(statSync(log as string).size * 0.7));
  const { planned, found } = await refusedThenRepaired(data, /writes up to #\d+ were confirmed durable, but the store ends at write #\d+/, "WAL tail cut by 30 %");
  assert.ok(planned.actions.some((a) => a.action === "reset-witness"));
  assert.ok(found < JOBS, "jobs were lost with the tail (what the repair accepts)");
});

S("one hex digit of a device's fingerprint changed in a table file: the record's checksum shows it", async () => {
  const data = join(ctx.tmp.path, "ldb");
  cpSync(ctx.template, data, { recursive: true });
  // Opening the store recovers its log into a table file, as a daemon start would.
  await (await Store.open(join(data, "store"), TABLES)).close();
  // The fingerprint is in several records (the device, its request, audit entries), and table
  // blocks are compressed (Snappy): a block keeps its first copy of a string as it is, possibly
  // in pieces, and later copies point back to it. Change one digit of each piece in turn until
  // the one the device record reads is found (reading it through the store, in this process).
  const hit = async (): Promise<boolean> => {
    const s = await Store.open<Record<string, { id: string }>>(join(data, "store"), TABLES);
    try {
      await s.get("devices", ctx.device);
      return false;
    } catch {
      return true;
    } finally {
      await s.close();
    }
  };
  let changed = "";
  for (const f of storeFiles(data, ".ldb")) {
    const original = readFileSync(f);
    // A copy may be cut into pieces by the compressor: look for 8-digit runs of it.
    const places = new Set<number>();
    for (let k = 0; k + 8 <= ctx.fingerprint.length; k += 4) {
      const piece = Buffer.from(ctx.fingerprint.slice(k, k + 8), "latin1");
      for (let at = original.indexOf(piece); at >= 0; at = original.indexOf(piece, at + 1)) places.add(at + 3);
    }
    for (const at of places) {
      const b = Buffer.from(original);
      b.writeUInt8(b.readUInt8(at) === 0x30 ? 0x31 : 0x30, at);
      writeFileSync(f, b);
      if (await hit()) {
        changed = `${f}@${at}`;
        break;
      }
      writeFileSync(f, original);
    }
    if (changed) break;
  }
  assert.ok(changed, "the device's fingerprint is in a table file");
  const { planned } = await refusedThenRepaired(data, new RegExp(`record devices/${ctx.device} fails its checksum`), "a hex digit changed in a table file");
  assert.ok(planned.actions.some((a) => a.action === "drop-record" && a.message.includes(`devices/${ctx.device}`)));
});

S("a table file gone: LevelDB refuses to open; the repair runs LevelDB's own repair first", async () => {
  const data = join(ctx.tmp.path, "missing-table");
  cpSync(ctx.template, data, { recursive: true });
  await (await Store.open(join(data, "store"), TABLES)).close(); // the log becomes a table file
  for (const f of storeFiles(data, ".ldb")) rmSync(f);
  const refused = await Store.open(join(data, "store"), TABLES).then(
    () => "opened",
    (e: Error) => e.message,
  );
  assert.match(refused, /LevelDB cannot open the store: Corruption: \d+ missing files/);
  const done = await cli(["store", "repair", "--data-dir", data, "--yes", "--json"]);
  assert.is(done.code, 0, done.stdout + done.stderr);
  const r = json<Repair & { leveldb: string[] }>(done);
  assert.is(r.actions[0]?.action, "leveldb-repair");
  assert.ok(
    r.leveldb.some((l) => /Repaired leveldb/.test(l)),
    r.leveldb.join("\n"),
  );
  assert.not.ok(r.after?.damaged, JSON.stringify(r.after));
  await (await Store.open(join(data, "store"), TABLES)).close();
});

S("a store of schema 1 (plain JSON) gets its checksums at its first open", async () => {
  const dir = join(ctx.tmp.path, "schema1");
  const db = new Level<string, string>(dir, { valueEncoding: "utf8" });
  await db.batch([
    { type: "put", key: "meta:schema", value: "1" },
    { type: "put", key: "!devices!dev_a", value: JSON.stringify({ id: "dev_a", name: "old" }) },
    { type: "put", key: "!jobs!job_1", value: JSON.stringify({ id: "job_1", state: "queued" }) },
  ]);
  await db.close();
  const s = await Store.open<{ devices: { id: string; name: string }; jobs: { id: string; state: string } }>(dir, ["devices", "jobs"]);
  try {
    assert.equal(await s.get("devices", "dev_a"), { id: "dev_a", name: "old" });
    assert.equal(await s.list("jobs"), [{ id: "job_1", state: "queued" }]);
  } finally {
    await s.close();
  }
  const raw = new Level<string, string>(dir, { valueEncoding: "utf8" });
  assert.is(await raw.get("meta:schema"), "2");
  assert.match((await raw.get("!devices!dev_a")) ?? "", /^[0-9a-f]{8}\{"id":"dev_a"/);
  await raw.close();
  assert.match(readFileSync(join(dir, "tether-witness"), "latin1"), /^tether-witness 1 \d{16} [0-9a-f]{8}\n$/);
  await (await Store.open(dir, ["devices", "jobs"])).close(); // and opens cleanly again
});

S("a check of a healthy store is clean; check and repair refuse while the daemon runs", async () => {
  const data = join(ctx.tmp.path, "healthy");
  cpSync(ctx.template, data, { recursive: true });
  const ok = await cli(["store", "check", "--data-dir", data]);
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /no problems found/);
  assert.match(ok.stdout, /audit chain intact/);
  const nothing = await cli(["store", "repair", "--data-dir", data, "--yes"]);
  assert.is(nothing.code, 0);
  assert.match(nothing.stdout, /nothing to repair/);
  const { d } = await startDaemonProcess(data);
  try {
    const busy = await cli(["store", "repair", "--yes", "--data-dir", data, "--json"]);
    assert.is(busy.code, 9, busy.stderr);
    assert.match((JSON.parse(busy.stderr) as { error: { message: string } }).error.message, /a daemon is running on .*: stop it first/);
  } finally {
    await stopDaemonProcess(d);
  }
  const none = await cli(["store", "check", "--data-dir", join(ctx.tmp.path, "nowhere")]);
  assert.is(none.code, 4);
});

S.run();
