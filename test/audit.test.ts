/**
 * The audit log against a real daemon: security events are recorded in order and chained;
 * changing an entry in the store is detected by `tether audit verify`, removing the last one
 * by the daemon's start.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AUDIT_TABLES, AuditEvent, AuditLog, GAPS_ACCEPTED_DETAIL, entryHash } from "@tether/audit";
import type { AuditEntry, AuditTables } from "@tether/audit";
import { Store } from "@tether/store";
import { admin, cli, handshakeFinish, handshakeStart, mintCode, pairDevice, pinParts, rawPairing, startTestDaemon, tempDir } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

type Entry = { seq: number; type: string; actor: string; subject: string; details: string; prev: string; hash: string };
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon };
const A = suite("audit log");

A.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data` });
});
A.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

const entries = async () => (await admin<{ entries: Entry[] }>(ctx.d, "ListAudit", { since: 0, limit: 0 })).entries;

A("security events are recorded, in order, chained, and without secrets", async () => {
  const id = await pairDevice(ctx.d, `${ctx.tmp.path}/n`, { name: "audited" });
  // a refused handshake: wrong PIN, so the node's confirmation fails at Finish
  const code = await mintCode(ctx.d);
  const c = rawPairing(ctx.d.listen);
  const parts = pinParts(code.code);
  const wrong = { ...parts, secret: parts.secret === "13572468" ? "24681357" : "13572468" };
  const h = await handshakeStart(c, wrong);
  await handshakeFinish(c, h).then(
    () => assert.unreachable("a wrong PIN finished"),
    () => undefined,
  );
  c.close();
  await admin(ctx.d, "RevokeDevice", { id, reason: "test" });

  const list = await entries();
  const types = list.map((e) => e.type);
  for (const t of ["code.minted", "request.created", "request.approved", "certificate.issued", "handshake.failed", "device.revoked"]) {
    assert.ok(types.includes(t), `${t} recorded (got ${types.join(", ")})`);
  }
  assert.ok(types.indexOf("code.minted") < types.indexOf("request.created"));
  assert.ok(types.indexOf("request.approved") < types.indexOf("device.revoked"));
  const failed = list.find((e) => e.type === "handshake.failed") as Entry;
  assert.match(failed.details, /WRONG_CODE/);
  assert.not.ok(JSON.stringify(list).includes(parts.secret), "no PIN secret in the audit log");
  list.forEach((e, i) => {
    assert.is(e.seq, i + 1);
    assert.is(e.prev, i === 0 ? "0".repeat(64) : list[i - 1]?.hash);
  });
  const v = await cli(["audit", "verify", "--json", "--data-dir", ctx.d.dataDir]);
  assert.is(v.code, 0, v.stderr);
  assert.is((JSON.parse(v.stdout) as { entries: number }).entries, list.length);
  const human = await cli(["audit", "--limit", "3", "--data-dir", ctx.d.dataDir]);
  assert.is(human.code, 0);
  assert.match(human.stdout, /device\.revoked/);
});

/** Stop the daemon of `on`, change its store with `fn`, start it again. */
async function tamper(fn: (s: Store<AuditTables>, all: AuditEntry[]) => Promise<void>, on: { d: TestDaemon } = ctx) {
  const dataDir = on.d.dataDir;
  await on.d.close();
  const s = await Store.open<AuditTables>(`${dataDir}/store`, AUDIT_TABLES);
  try {
    await fn(
      s,
      (await s.list("audit")).sort((a, b) => a.seq - b.seq),
    );
  } finally {
    await s.close();
  }
  on.d = await startTestDaemon({ dataDir });
}

A("a changed entry breaks the chain, and verify names it", async () => {
  let target = 0;
  await tamper(async (s, all) => {
    const e = all[2] as AuditEntry;
    target = e.seq;
    await s.batch([{ table: "audit", type: "put", value: { ...e, actor: "someone-else" } }]);
  });
  const v = await cli(["audit", "verify", "--data-dir", ctx.d.dataDir]);
  assert.is(v.code, 13);
  assert.match(v.stdout, new RegExp(`BROKEN at entry ${target}: entry ${target} was changed`));
  // put it back, then remove the last entry: the head gives it away
  await tamper(async (s, all) => {
    const e = all[2] as AuditEntry;
    await s.batch([{ table: "audit", type: "put", value: { ...e, actor: "admin" } }]);
  });
  assert.is((await cli(["audit", "verify", "--data-dir", ctx.d.dataDir])).code, 0, "restored");
  // Removing the last entry leaves the head naming it: the daemon sees that at start and
  // refuses (store-damage.test.ts has the rest of that story); a repair resets the head.
  const refused = await tamper(async (s, all) => {
    await s.batch([{ table: "audit", type: "del", key: (all[all.length - 1] as AuditEntry).id }]);
  }).then(
    () => "started",
    (e: Error) => e.message,
  );
  assert.match(refused, /audit log: the head names entry \d+ but the log ends at entry \d+: entries were removed/);
  const w = await cli(["store", "check", "--json", "--data-dir", ctx.d.dataDir]);
  assert.is(w.code, 14);
  assert.match(w.stdout, /entries were removed/);
  assert.is((await cli(["store", "repair", "--yes", "--data-dir", ctx.d.dataDir])).code, 0);
  ctx.d = await startTestDaemon({ dataDir: ctx.d.dataDir });
  assert.is((await cli(["audit", "verify", "--data-dir", ctx.d.dataDir])).code, 0, "the head reset, and the repair recorded");
});

A.run();

/**
 * A writer of the store who also recomputes hashes: one entry rewritten with its own hash
 * recomputed breaks the next link; the whole chain rebuilt from that entry on (hashes, links
 * and head) is caught only by a head kept outside the data directory (docs/security.md row 30).
 */
const R = suite("audit log: entries rewritten with recomputed hashes");
const rctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon };

R.before(async () => {
  rctx.tmp = tempDir();
  rctx.d = await startTestDaemon({ dataDir: `${rctx.tmp.path}/data` });
  for (let i = 0; i < 4; i++) await mintCode(rctx.d); // entries 1..4: code.minted
});
R.after(async () => {
  await rctx.d.stop();
  rctx.tmp.remove();
});

/** `e` with `patch` applied and its hash recomputed, as someone who knows the hash rule could. */
function rehashed(e: AuditEntry, patch: Partial<AuditEntry>): AuditEntry {
  const { id, hash: _h, ...rest } = { ...e, ...patch };
  return { id, ...rest, hash: entryHash(rest) };
}

type Verified = { ok: boolean; head: string; brokenAt: number; reason: string };
/** What `tether audit verify [--head HASH]` asks the daemon (the CLI itself is run below where it matters). */
const verifyAudit = (head = "") => admin<Verified>(rctx.d, "VerifyAudit", { head });

R("an entry rewritten with its own hash recomputed breaks the link from the next entry", async () => {
  let original: AuditEntry | undefined;
  await tamper(async (s, all) => {
    original = all[1] as AuditEntry; // entry 2 of 4
    await s.batch([{ table: "audit", type: "put", value: rehashed(original, { actor: "someone-else" }) }]);
  }, rctx);
  const v = await verifyAudit();
  assert.is(v.ok, false);
  assert.is(v.brokenAt, 3);
  assert.match(v.reason, /entry 3 does not link to entry 2/);
  // The last entry, which no link follows: the head record names its old hash. The daemon
  // checks the chain's end at every start, so it refuses to start on such a store at all.
  const dataDir = rctx.d.dataDir;
  await rctx.d.close();
  const s = await Store.open<AuditTables>(`${dataDir}/store`, AUDIT_TABLES);
  const all = (await s.list("audit")).sort((x, y) => x.seq - y.seq);
  const last = all[all.length - 1] as AuditEntry;
  await s.batch([
    { table: "audit", type: "put", value: original as AuditEntry },
    { table: "audit", type: "put", value: rehashed(last, { subject: "covered" }) },
  ]);
  await s.close();
  const refused = await startTestDaemon({ dataDir }).then(
    async (d) => {
      rctx.d = d;
      return undefined;
    },
    (e: Error) => e,
  );
  assert.ok(refused, "the daemon started on an audit log whose last entry was rewritten");
  assert.match(refused?.message ?? "", new RegExp(`audit log: the last entry \\(${last.seq}\\) was changed after it was written`));
  const back = await Store.open<AuditTables>(`${dataDir}/store`, AUDIT_TABLES);
  await back.batch([{ table: "audit", type: "put", value: last }]);
  await back.close();
  rctx.d = await startTestDaemon({ dataDir });
  assert.ok((await verifyAudit()).ok, "restored");
});

/** Rewrite entry `seq` with `patch` and rebuild everything after it, and the head, to match. */
async function rebuildFrom(s: Store<AuditTables>, all: AuditEntry[], seq: number, patch: Partial<AuditEntry>): Promise<void> {
  const out: AuditEntry[] = [];
  let prev = (all[seq - 2] as AuditEntry | undefined)?.hash ?? "0".repeat(64);
  for (const e of all.slice(seq - 1)) {
    const next = rehashed(e, { ...(e.seq === seq ? patch : {}), prev });
    out.push(next);
    prev = next.hash;
  }
  const last = out[out.length - 1] as AuditEntry;
  await s.batch([
    ...out.map((value) => ({ table: "audit" as const, type: "put" as const, value })),
    { table: "auditHead", type: "put", value: { id: "head", seq: last.seq, hash: last.hash } },
  ]);
}

R("a chain rebuilt from an entry on is caught by a head kept outside the data directory (audit verify --head)", async () => {
  const kept = await verifyAudit();
  assert.ok(kept.ok);
  assert.ok((await verifyAudit(kept.head)).ok, "the current head is in the chain");
  const listed = (await admin<{ entries: { seq: number; hash: string }[] }>(rctx.d, "ListAudit", { since: 0, limit: 0 })).entries;
  const seqOfKept = listed.find((e) => e.hash === kept.head)?.seq as number;
  await mintCode(rctx.d);
  await mintCode(rctx.d); // the log goes on: the kept head is an older entry now
  const later = await cli(["audit", "verify", "--head", kept.head, "--data-dir", rctx.d.dataDir]);
  assert.is(later.code, 0, later.stdout);
  assert.match(later.stdout, new RegExp(`intact: .*contains the kept head ${kept.head}`));

  // Rebuilt after the kept head: the kept head says nothing about later entries (nor should it).
  await tamper((s, all) => rebuildFrom(s, all, seqOfKept + 1, { actor: "someone-else" }), rctx);
  assert.ok((await verifyAudit(kept.head)).ok);

  // Rebuilt from entry 2 on, hashes, links and head record included: the chain alone looks
  // whole (the documented limit), but the kept head is gone from it.
  await tamper((s, all) => rebuildFrom(s, all, 2, { actor: "someone-else" }), rctx);
  const alone = await verifyAudit();
  assert.ok(alone.ok, "a rebuilt chain verifies on its own: only a kept head can tell");
  assert.is.not(alone.head, kept.head);
  const v = await verifyAudit(kept.head);
  assert.is(v.ok, false);
  assert.is(v.brokenAt, 0);
  assert.match(v.reason, new RegExp(`no entry has the kept head hash ${kept.head}: the log was rewritten`));
  const human = await cli(["audit", "verify", "--head", kept.head, "--data-dir", rctx.d.dataDir]);
  assert.is(human.code, 13);
  assert.match(human.stdout, /^audit chain BROKEN: no entry has the kept head hash/);

  // a malformed head is a usage error, on the CLI and on the admin socket
  assert.is((await cli(["audit", "verify", "--head", "xyz", "--data-dir", rctx.d.dataDir])).code, 2);
  await admin(rctx.d, "VerifyAudit", { head: "XYZ" }).then(
    () => assert.unreachable("a malformed head was accepted"),
    (e: Error) => assert.match(e.message, /64 lowercase hex/),
  );
});

R.run();

const G = suite("audit log: breaks a store repair accepted");

G("a break is accepted only by a repair entry chained after it that names it exactly; a changed entry never is", async () => {
  const tmp = tempDir();
  const store = await Store.open<AuditTables>(`${tmp.path}/store`, AUDIT_TABLES);
  try {
    let t = 1_000;
    const log = new AuditLog(store, () => t++);
    for (let i = 0; i < 6; i++) await log.append(AuditEvent.CodeMinted, "admin", `code_${i}`);
    // entries 3 and 4 lost from the middle, as a damaged write-ahead log loses them
    await store.batch([
      { table: "audit", type: "del", key: "0000000000000003" },
      { table: "audit", type: "del", key: "0000000000000004" },
    ]);
    const broken = await log.verify();
    assert.is(broken.ok, false);
    assert.is(broken.ok ? 0 : broken.brokenAt, 5);
    const [gap, ...more] = await log.breaks();
    assert.equal(more, []);
    assert.is(gap?.at, 5);
    assert.is(gap?.acceptedBy, undefined);
    // an acceptance that names another link does not count
    await log.append(AuditEvent.StoreRepaired, "admin", "store", { [GAPS_ACCEPTED_DETAIL]: `5:${"0".repeat(64)}` });
    assert.is((await log.verify()).ok, false);
    // the right link, in an entry after the break: verified, and the break listed
    const repair = await log.append(AuditEvent.StoreRepaired, "admin", "store", { [GAPS_ACCEPTED_DETAIL]: gap?.link ?? "" });
    const v = await log.verify();
    assert.ok(v.ok, v.ok ? "" : v.reason);
    assert.equal(v.ok ? v.gaps : [], [{ at: 5, reason: "entry 3 is missing (found 5 in its place)", acceptedBy: repair.seq }]);
    assert.is((await log.breaks())[0]?.acceptedBy, repair.seq);
    // an entry changed after it was written is not a break a repair accepts
    const e6 = (await store.get("audit", "0000000000000006")) as AuditEntry;
    await store.batch([{ table: "audit", type: "put", value: { ...e6, subject: "rewritten" } }]);
    const changed = await log.verify();
    assert.is(changed.ok, false);
    assert.match(changed.ok ? "" : changed.reason, /entry 6 was changed after it was written/);
  } finally {
    await store.close();
    tmp.remove();
  }
});

G.run();
