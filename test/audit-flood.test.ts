/**
 * An unauthenticated caller must not be able to fill the disk through the audit log, nor
 * make `tether audit` unusable. Unit tests of the two mechanisms (the AuditLog's size caps;
 * the AuditCoalescer with an injected clock), then a real daemon flooded with 1,000 refused
 * Start/Reveal/Finish calls carrying 2 MB fields from one address, and a store that already
 * holds oversized entries (written before the caps) listed by the real CLI.
 */
import { readdirSync, statSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import type { IncomingHttpHeaders } from "node:http2";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import {
  AUDIT_DETAILS_MAX_CHARS,
  AUDIT_DETAILS_MAX_FIELDS,
  AUDIT_GENESIS,
  AUDIT_NAME_MAX_CHARS,
  AUDIT_TABLES,
  AuditCoalescer,
  AuditLog,
  COALESCE_OVERFLOW_KEY,
  entryHash,
} from "@tether/audit";
import type { AuditEntry, AuditHead, AuditTables } from "@tether/audit";
import type { AuditRecord } from "@tether/base";
import { PAIR_PROTOCOL_VERSION } from "@tether/crypto";
import { Store } from "@tether/store";
import { tetherPackageDefinition } from "@tether/wire";
import { admin, cli, loopbackForwarder, pairDevice, startDaemonProcess, startTestDaemon, stopDaemonProcess, tempDir } from "./helpers.ts";

const MB2 = 2_000_000;

/** Bytes of all files under `dir`. */
function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += dirBytes(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

const U = suite("audit flood: caps and coalescing (unit)");

U("the AuditLog holds every entry to its caps, marks the cut, and the chain still verifies", async () => {
  const tmp = tempDir();
  const store = await Store.open<AuditTables>(join(tmp.path, "store"), AUDIT_TABLES);
  try {
    const log = new AuditLog(store, () => 1_700_000_000_000);
    const details: Record<string, string | number> = { reason: "r".repeat(MB2), second: "s".repeat(5000), n: 7 };
    for (let i = 0; i < 40; i++) details[`f${String(i).padStart(2, "0")}`] = i;
    details["k".repeat(1000)] = "long key";
    const e = await log.append("handshake.failed", "a".repeat(MB2), "s".repeat(MB2), details);
    const [stored] = await log.entries({ limit: 1 });
    assert.equal(stored, e, "what append returns is what is stored");
    assert.ok(e.actor.length < AUDIT_NAME_MAX_CHARS + 32, `actor ${e.actor.length} chars`);
    assert.ok(e.actor.endsWith(`…(+${MB2 - AUDIT_NAME_MAX_CHARS} chars)`), e.actor.slice(-40));
    assert.ok(e.subject.length < AUDIT_NAME_MAX_CHARS + 32);
    const values = Object.values(e.details).filter((v): v is string => typeof v === "string");
    assert.ok(values.join("").length < AUDIT_DETAILS_MAX_CHARS + 32 * 33, "string values together are capped");
    assert.match(e.details.reason as string, /^r+…\(\+1991808 chars\)$/);
    assert.match(e.details.second as string, /^…\(\+5000 chars\)$/, "the budget was used up by the first value");
    assert.is(Object.keys(e.details).length, AUDIT_DETAILS_MAX_FIELDS + 1);
    assert.is(e.details["…"], `+${Object.keys(details).length - AUDIT_DETAILS_MAX_FIELDS} fields`);
    assert.ok(JSON.stringify(e).length < 16_000, `entry is ${JSON.stringify(e).length} chars`);
    // the caps apply to batches carrying events too, and appendAll writes several at once
    await log.batch([], { audit: [{ type: "code.minted", actor: "admin", subject: "x".repeat(MB2) }] });
    const two = await log.appendAll([
      { type: "code.minted", actor: "admin", subject: "a" },
      { type: "code.minted", actor: "admin", subject: "b" },
    ]);
    assert.equal(
      two.map((x) => x.seq),
      [3, 4],
    );
    assert.ok((await log.entries({ limit: 2, before: 3 })).every((x) => x.subject.length < AUDIT_NAME_MAX_CHARS + 32));
    assert.equal(
      (await log.entries({ limit: 2, before: 4 })).map((x) => x.seq),
      [2, 3],
      "a page of the newest below `before`, oldest first",
    );
    assert.equal(await log.verify(), { ok: true, entries: 4, head: two[1]?.hash, gaps: [] });
  } finally {
    await store.close();
    tmp.remove();
  }
});

/** A trail that records what is appended, with an injected clock driving the coalescer. */
function fakeTrail() {
  const written: AuditRecord[][] = [];
  return {
    written,
    appendAll: async (events: readonly AuditRecord[]): Promise<AuditEntry[]> => {
      written.push([...events]);
      return [];
    },
  };
}
const refusal = (subject: string): AuditRecord => ({
  type: "handshake.failed",
  actor: "anonymous",
  subject,
  details: { rpc: "Reveal", code: "INVALID_ARGUMENT", peer: "ipv4:10.0.0.1" },
});

U("the coalescer writes the first refusal of a key at once and one entry with the count per window", async () => {
  let t = 1_000_000;
  const trail = fakeTrail();
  const c = new AuditCoalescer({ trail, now: () => t, windowMs: 60_000 });
  assert.is(await c.note("k", refusal("s0")), "written");
  assert.is(trail.written.length, 1);
  for (let i = 1; i <= 500; i++) {
    t += 10;
    assert.is(await c.note("k", refusal(`s${i}`)), "counted");
  }
  assert.is(await c.note("other", refusal("o0")), "written", "another key has its own window");
  assert.is(await c.flushDue(), 0, "the window has not ended");
  assert.is(trail.written.length, 2);
  t = 1_000_000 + 60_000;
  assert.is(await c.flushDue(), 1, "one entry for the 500 counted");
  const agg = trail.written[2]?.[0] as AuditRecord;
  assert.is(agg.subject, "s1", "the first counted refusal stands for them");
  assert.equal(agg.details, { rpc: "Reveal", code: "INVALID_ARGUMENT", peer: "ipv4:10.0.0.1", count: 500, firstAt: 1_000_010, lastAt: 1_005_000 });
  // A steady flood: the key stays in its window, so nothing is written at once.
  t += 5;
  assert.is(await c.note("k", refusal("again")), "counted");
  assert.is(await c.flushAll(), 1, "flushAll writes what is counted, window ended or not");
  assert.equal(trail.written[3]?.[0]?.details?.count, 1);
  // Two quiet windows later the key is forgotten, and its next refusal is written at once.
  t += 60_000;
  await c.flushDue();
  t += 60_000;
  await c.flushDue();
  assert.is(c.size, 0);
  assert.is(await c.note("k", refusal("later")), "written");
});

U("the coalescer tracks at most maxKeys keys; the rest are counted under one overflow entry", async () => {
  let t = 0;
  const trail = fakeTrail();
  const c = new AuditCoalescer({ trail, now: () => t, windowMs: 1000, maxKeys: 3 });
  for (let i = 0; i < 100; i++) await c.note(`peer${i}`, refusal(`x${i}`));
  assert.is(trail.written.length, 3, "only the first maxKeys keys were written at once");
  assert.is(c.size, 4);
  t = 1000;
  assert.is(await c.flushDue(), 1);
  const o = trail.written[3]?.[0] as AuditRecord;
  assert.is(o.details?.count, 97);
  assert.is(o.details?.overflow, true);
  assert.ok(c.size <= 4);
  assert.throws(() => new AuditCoalescer({ trail, now: () => t, windowMs: 0 }), /windowMs/);
  assert.ok(COALESCE_OVERFLOW_KEY.length > 0);
});

U("a failed write gives the counts back for the next flush", async () => {
  let t = 0;
  let fail = false;
  const written: AuditRecord[] = [];
  const c = new AuditCoalescer({
    trail: { appendAll: async (evs) => (fail ? Promise.reject(new Error("disk full")) : (written.push(...evs), [])) },
    now: () => t,
    windowMs: 1000,
  });
  await c.note("k", refusal("a"));
  await c.note("k", refusal("b"));
  await c.note("k", refusal("c"));
  fail = true;
  t = 1000;
  await c.flushDue().then(
    () => assert.unreachable("the write failed"),
    (e: Error) => assert.match(e.message, /disk full/),
  );
  fail = false;
  await c.note("k", refusal("d"));
  assert.is(await c.flushAll(), 1);
  assert.is(written.at(-1)?.details?.count, 3, "2 counted before the failure, 1 after");
});

U.run();

const F = suite("audit flood: a real daemon");

type Status = { code: number; details: string };

/**
 * A bare HTTP/2 gRPC client for the flood: each message is encoded once and sent as is, so
 * the test spends its time on the daemon's side of 2 GB of requests, not on encoding them.
 */
function floodClient(listen: string) {
  // 8 messages of 2 MB in flight are more than the 10 MB an HTTP/2 session may buffer by default
  const session = http2Connect(`https://${listen}`, { rejectUnauthorized: false, servername: "localhost", maxSessionMemory: 64 });
  session.on("error", () => {});
  const methods = tetherPackageDefinition()["tether.v1.Pairing"] as Record<string, { path: string; requestSerialize(v: object): Buffer }>;
  const frame = (rpc: string, req: object): { path: string; body: Buffer } => {
    const m = methods[rpc] as { path: string; requestSerialize(v: object): Buffer };
    const msg = m.requestSerialize(req);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(msg.length, 1);
    return { path: m.path, body: Buffer.concat([head, msg]) };
  };
  const send = (f: { path: string; body: Buffer }): Promise<Status> =>
    new Promise((resolve, reject) => {
      const s = session.request({ ":method": "POST", ":path": f.path, "content-type": "application/grpc", te: "trailers" });
      let got: Status | undefined;
      const take = (h: IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) got = { code: Number(h["grpc-status"]), details: decodeURIComponent(String(h["grpc-message"] ?? "")) };
      };
      s.on("response", take);
      s.on("trailers", take);
      s.on("data", () => {});
      s.on("error", reject);
      s.on("close", () => (got ? resolve(got) : reject(new Error(`no grpc-status for ${f.path}`))));
      s.end(f.body);
    });
  return { frame, send, close: () => session.close() };
}

F("1,000 refused calls with 2 MB fields from one address: bounded disk, a real pairing from elsewhere works, tether audit --limit 20 shows the count", async () => {
  const tmp = tempDir();
  const dataDir = join(tmp.path, "data");
  // `tether daemon` in its own process, with its real per-address budgets (burst 30, then 2 a second).
  const { d, ready } = await startDaemonProcess(dataDir);
  const hostile = floodClient(ready.listen);
  const fwd = await loopbackForwarder(ready.listen, () => "127.0.0.2");
  const target = { dataDir, listen: ready.listen };
  try {
    const seqBefore = (await admin<{ entries: { seq: number }[] }>(target, "ListAudit", { limit: 1 })).entries[0]?.seq ?? 0;
    const before = dirBytes(dataDir);
    const bigSession = `hs_${"a".repeat(MB2)}`;
    const frames = [
      hostile.frame("Start", { version: PAIR_PROTOCOL_VERSION, method: "pin", selector: "9".repeat(MB2), sid: new Uint8Array(16), commitment: new Uint8Array(64) }),
      hostile.frame("Reveal", { sessionId: bigSession, ya: new Uint8Array(32) }),
      hostile.frame("Finish", { sessionId: bigSession, nodeConfirmation: new Uint8Array(64), nodeSignature: new Uint8Array(64) }),
    ];
    assert.ok(
      frames.every((f) => f.body.length > MB2 && f.body.length < 2 * 1024 * 1024),
      "each message carries a 2 MB field, within the listener's limit",
    );
    const codes = new Map<number, number>();
    let longest = 0;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 1000) {
          const r = await hostile.send(frames[next++ % 3] as { path: string; body: Buffer });
          codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
          longest = Math.max(longest, r.details.length);
        }
      }),
    );
    const floodMs = performance.now() - t0;
    const limited = codes.get(status.RESOURCE_EXHAUSTED) ?? 0;
    assert.equal([...codes.keys()].sort(), [status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED].sort(), `statuses ${JSON.stringify([...codes])}`);
    // 30 refusals of budget, plus what refilled (2 a second) while the flood ran
    assert.ok(limited >= 1000 - 30 - Math.ceil((2 * floodMs) / 1000) - 1, `${limited} of 1000 refused as RATE_LIMITED in ${floodMs.toFixed(0)} ms`);
    assert.ok(longest < 700, `no refusal echoes the caller's text (longest details: ${longest} chars)`);

    // The address has used up its budget: even a well-formed Reveal is refused before any work.
    const after = await hostile.send(hostile.frame("Reveal", { sessionId: `hs_${"0".repeat(24)}`, ya: new Uint8Array(32) }));
    assert.is(after.code, status.RESOURCE_EXHAUSTED, after.details);
    // A real pairing from another address still works.
    const deviceId = await pairDevice({ dataDir, listen: fwd.address }, join(tmp.path, "node"), { name: "after-the-flood" });
    assert.match(deviceId, /^dev_/);

    const listed = await cli(["audit", "--limit", "20", "--data-dir", dataDir]);
    assert.is(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /handshake\.failed.*"count":\d+/);
    const json = await cli(["audit", "--limit", "20", "--json", "--data-dir", dataDir]);
    assert.is(json.code, 0, json.stderr);
    const last20 = JSON.parse(json.stdout) as { seq: number; type: string; details: Record<string, unknown> }[];
    assert.ok(
      last20.some((e) => e.type === "request.approved"),
      "the real pairing is in the last 20",
    );
    const aggregated = last20.find((e) => e.type === "handshake.failed" && typeof e.details.count === "number" && e.details.count > 100);
    assert.ok(aggregated, "the aggregated refusal with its count is in the last 20");
    const all = JSON.parse((await cli(["audit", "--json", "--data-dir", dataDir])).stdout) as typeof last20;
    assert.equal(last20, all.slice(-20), "the newest 20 of the whole log, newest last");
    const flood = all.filter((e) => e.seq > seqBefore && e.type === "handshake.failed");
    assert.ok(
      flood.every((e) => /^(ipv4:)?127\.0\.0\.1$/.test(String(e.details.peer))),
      `all from the flooding address: ${[...new Set(flood.map((e) => e.details.peer))].join(", ")}`,
    );
    const counted = flood.reduce((n, e) => n + (typeof e.details.count === "number" ? e.details.count : 1), 0);
    assert.is(counted, 1001, "every refusal is accounted for (the 1,000 and the Reveal after)");
    // 3 RPCs x 2 codes (INVALID_ARGUMENT, RATE_LIMITED): the first of each at once, then one per window
    const windows = 1 + Math.floor((performance.now() - t0) / 60_000);
    assert.ok(flood.length <= 6 * (1 + windows), `${flood.length} entries for the flood`);
    const grown = dirBytes(dataDir) - before;
    assert.ok(grown < 5_000_000, `the data directory grew by ${grown} bytes`);
    const logLines = d.err().split("\n");
    assert.ok(Math.max(...logLines.map((l) => l.length)) < 2000, "no log line carries the caller's text");
    console.log(
      `  flood: 1000 calls in ${floodMs.toFixed(0)} ms; ${limited} RATE_LIMITED; data directory +${grown} bytes; ${flood.length} audit entries; ${logLines.length} log lines`,
    );
  } finally {
    hostile.close();
    fwd.close();
    await stopDaemonProcess(d);
    tmp.remove();
  }
});

F("a store that already holds oversized entries: tether audit pages within the message limit and verify still passes", async () => {
  const tmp = tempDir();
  const dataDir = join(tmp.path, "data");
  let d = await startTestDaemon({ dataDir });
  await d.close();
  // Twelve 2 MB entries, chained correctly, as a daemon before the caps wrote them: 24 MB in all.
  const store = await Store.open<AuditTables>(join(dataDir, "store"), AUDIT_TABLES);
  try {
    let head: AuditHead = (await store.get("auditHead", "head")) ?? { id: "head", seq: 0, hash: AUDIT_GENESIS };
    for (let i = 0; i < 12; i++) {
      const base = {
        seq: head.seq + 1,
        time: Date.now(),
        type: "handshake.failed",
        actor: "anonymous",
        subject: `hs_${String(i).repeat(MB2)}`,
        details: { rpc: "Reveal", code: "SESSION_NOT_FOUND" },
        prev: head.hash,
      };
      const e: AuditEntry = { id: String(base.seq).padStart(16, "0"), ...base, hash: entryHash(base) };
      head = { id: "head", seq: e.seq, hash: e.hash };
      await store.batch([
        { table: "audit", type: "put", value: e },
        { table: "auditHead", type: "put", value: head },
      ]);
    }
  } finally {
    await store.close();
  }
  d = await startTestDaemon({ dataDir });
  try {
    const r = await cli(["audit", "--limit", "20", "--json", "--data-dir", dataDir]);
    assert.is(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { seq: number; subject: string }[];
    assert.ok(rows.length >= 12);
    const huge = rows.filter((e) => e.subject.startsWith("hs_"));
    assert.is(huge.length, 12);
    assert.ok(
      huge.every((e) => e.subject.length < 400 && /…\(\+\d+ chars\)$/.test(e.subject)),
      "listed capped, with the marker",
    );
    const human = await cli(["audit", "--data-dir", dataDir]);
    assert.is(human.code, 0, human.stderr);
    const v = await cli(["audit", "verify", "--data-dir", dataDir]);
    assert.is(v.code, 0, `${v.stdout}${v.stderr}`);
  } finally {
    await d.stop();
    tmp.remove();
  }
});

F.run();
