/**
 * The audit log against a real daemon: security events are recorded in order and chained;
 * changing an entry in the store is detected by `tether audit verify`, removing the last one
 * by the daemon's start.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AUDIT_TABLES } from "@tether/audit";
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

async function tamper(fn: (s: Store<AuditTables>, all: AuditEntry[]) => Promise<void>) {
  const dataDir = ctx.d.dataDir;
  await ctx.d.close();
  const s = await Store.open<AuditTables>(`${dataDir}/store`, AUDIT_TABLES);
  try {
    await fn(s, (await s.list("audit")).sort((a, b) => a.seq - b.seq));
  } finally {
    await s.close();
  }
  ctx.d = await startTestDaemon({ dataDir });
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
