/**
 * Audit entries are committed in the same atomic write as the change they record: a daemon
 * killed with SIGKILL in the middle of a burst of dispatches, code mints and labels leaves a
 * store where every job has its `job.dispatched` entry, every code its `code.minted` entry,
 * and the chain verifies. Also the store's own contract: batches carrying audit events are
 * refused by a store that cannot record them, and concurrent batches (group commit) all land,
 * in call order.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AUDIT_TABLES, AuditLog } from "@tether/audit";
import type { AuditTables } from "@tether/audit";
import { connect } from "@tether/node";
import { JOB_TABLES } from "@tether/jobs";
import type { JobTables } from "@tether/jobs";
import { PAIRING_TABLES } from "@tether/pairing";
import type { PairingTables } from "@tether/pairing";
import { Store, StoreError } from "@tether/store";
import { rpc } from "../packages/cli/src/cli.ts";
import { pairDevice, startDaemonProcess, stopDaemonProcess, tempDir } from "./helpers.ts";

const A = suite("audit: atomic with the change");

A("SIGKILL during a burst: every job and code has its audit entry, and the chain verifies", async () => {
  const tmp = tempDir();
  const data = join(tmp.path, "data");
  const { d, ready } = await startDaemonProcess(data);
  const node = { dataDir: data, listen: ready.listen };
  let conn: ReturnType<typeof connect> | undefined;
  try {
    const id = await pairDevice(node, join(tmp.path, "n"), { name: "crash" });
    conn = connect(join(tmp.path, "n"));
    conn.handle("echo", async (x) => {
      await new Promise((r) => setTimeout(r, 5_000)); // keep jobs open; the daemon dies first
      return x;
    });
    await conn.start();
    const target = { kind: "socket" as const, dataDir: data };
    let answered = 0;
    const burst = Array.from({ length: 120 }, (_, i) =>
      (i % 3 === 0
        ? rpc("Admin", target, "CreateCode", { method: "qr", ttlSeconds: 60 })
        : rpc("Orchestrator", target, "Dispatch", { deviceId: id, capability: "echo", input: Buffer.from(`{"i":${i}}`), timeoutMs: 60_000, idempotencyKey: "" })
      ).then(
        () => answered++,
        () => undefined, // calls in flight when the daemon dies fail; that is the point
      ),
    );
    // Kill it once some calls have been answered and others are still in flight.
    const until = Date.now() + 20_000;
    while (answered < 20 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    d.child.kill("SIGKILL");
    await d.exited;
    await Promise.all(burst);
    assert.ok(answered >= 20, `some calls were answered before the kill (${answered})`);

    const store = await Store.open<PairingTables & JobTables & AuditTables>(join(data, "store"), [...PAIRING_TABLES, ...JOB_TABLES, ...AUDIT_TABLES]);
    try {
      const log = new AuditLog<PairingTables & JobTables>(store, Date.now);
      const v = await log.verify();
      assert.ok(v.ok, `chain verifies after SIGKILL: ${JSON.stringify(v)}`);
      const entries = await log.entries();
      const dispatched = new Set(entries.filter((e) => e.type === "job.dispatched").map((e) => e.subject));
      const minted = new Set(entries.filter((e) => e.type === "code.minted").map((e) => e.subject));
      const jobs = await store.list("jobs");
      const codes = await store.list("codes");
      assert.ok(jobs.length > 0 && codes.length > 0, "the burst wrote something before the kill");
      for (const j of jobs) assert.ok(dispatched.has(j.id), `job ${j.id} has its job.dispatched entry`);
      for (const c of codes) assert.ok(minted.has(c.id), `code ${c.id} has its code.minted entry`);
      // and no entry names a job or code the store does not have (written together or not at all)
      assert.is(dispatched.size, jobs.length, "one dispatch entry per stored job");
      assert.is(minted.size, codes.length, "one mint entry per stored code (the pairing code included)");
    } finally {
      await store.close();
    }
  } finally {
    await conn?.close();
    await stopDaemonProcess(d, "SIGKILL");
    tmp.remove();
  }
});

A("a store without an audit log refuses audit events; concurrent batches all land, in call order", async () => {
  const tmp = tempDir();
  const store = await Store.open<AuditTables>(join(tmp.path, "s"), AUDIT_TABLES);
  try {
    const err = await store.batch([], { audit: [{ type: "code.minted", actor: "admin", subject: "x" }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof StoreError && err.code === "NOT_AUDITED", "refused, not dropped");
    // 200 concurrent writers of the same key and of their own keys: all resolve, the last call wins
    const head = (seq: number) => ({ table: "auditHead" as const, type: "put" as const, value: { id: "head" as const, seq, hash: String(seq) } });
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.batch([head(i)], { sync: i % 2 === 0 })));
    assert.is((await store.get("auditHead", "head"))?.seq, 199);
    await store.batch([{ table: "auditHead", type: "del", key: "head" }]);
    const log = new AuditLog(store, () => 1_000);
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append("code.minted", "admin", `c${i}`)));
    const v = await log.verify();
    assert.ok(v.ok && v.entries === 50, JSON.stringify(v));
    assert.equal(
      (await log.entries()).map((e) => e.subject),
      Array.from({ length: 50 }, (_, i) => `c${i}`),
      "entries in call order",
    );
  } finally {
    await store.close();
    tmp.remove();
  }
});

A.run();
