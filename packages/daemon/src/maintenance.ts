/**
 * Offline maintenance of a stopped daemon's store, behind `tether store check` and `tether
 * store repair`. Both take the store's lock, so they refuse while a daemon runs on it.
 *
 * check: every problem the store's open finds (an earlier damage record, LevelDB's recovery
 * log, the lost-writes witness, the meta records), every record whose checksum fails (a full
 * read), the audit chain's head, and the whole chain.
 *
 * repair: says exactly what it would do (drop records, reset the witness, reset the audit
 * head, rebuild indexes, run LevelDB's own repair) and, with `apply`, does it and appends a
 * `store.repaired` audit entry that records it. It never brings lost writes back: it makes the
 * store consistent and says what is gone.
 */
import type { WebhookTables } from "@tether/webhooks";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { clip } from "@tether/base";
import { AuditEvent, AuditLog, GAPS_ACCEPTED_DETAIL, MAX_GAPS_ACCEPTED } from "@tether/audit";
import type { AuditEntry, AuditTables, ChainBreak, HeadCheck, VerifyResult } from "@tether/audit";
import type { JobTables } from "@tether/jobs";
import type { PairingTables } from "@tether/pairing";
import { ProblemKind, Store, StoreError } from "@tether/store";
import type { Inspection, StoreProblem } from "@tether/store";
import { STORE_TABLES } from "./daemon.js";
import { DaemonError } from "./errors.js";

type Tables = PairingTables & JobTables & AuditTables & WebhookTables;

/**
 * Markers saying an index covers every record. Without one, its manager rebuilds the index
 * from the records at the next start (the jobs' open and per-device indexes, the pending
 * requests), which a repair wants after records were lost or dropped.
 */
const INDEX_MARKERS = [
  { table: "jobsMeta", key: "openIndex", what: "the open-job and per-device job indexes" },
  { table: "pairingMeta", key: "pendingIndex", what: "the pending-request index" },
] as const;

export type StoreCheck = {
  dataDir: string;
  /** no problem at all: the daemon will start, and the audit chain verifies */
  ok: boolean;
  /** problems a repair would act on (the daemon refuses to start on most of them) */
  damaged: boolean;
  schema: number | null;
  /** records read (meta records not counted) */
  records: number;
  /** the store's write sequence, and the witness's (null: none or unreadable) */
  writeSeq: number | null;
  witness: number | null;
  problems: StoreProblem[];
  /** what is worth knowing but not a repair's business (e.g. an audit chain broken mid-way) */
  notes: string[];
  /** the whole audit chain (null when it could not be read) */
  audit: VerifyResult | null;
};

export type RepairAction = {
  action: "leveldb-repair" | "drop-record" | "accept-lost-writes" | "reset-witness" | "write-meta" | "reset-audit-head" | "drop-audit-entry" | "accept-audit-gap" | "rebuild-index";
  message: string;
  /** drop-record: the whole LevelDB key */
  raw?: string;
};

export type StoreRepair = {
  dataDir: string;
  /** false: a plan only (no --yes), or nothing to do */
  applied: boolean;
  actions: RepairAction[];
  /** the audit entry recording the repair */
  auditEntry?: number;
  /** LevelDB's own account of its repair */
  leveldb?: string[];
  /** the check before, and (applied) after */
  before: StoreCheck;
  after?: StoreCheck;
};

/** `breaks`: the breaks in the audit chain no repair has accepted yet */
type Examined = { check: StoreCheck; head: HeadCheck | undefined; markers: string[]; breaks: ChainBreak[] };

function storeDir(dataDir: string): string {
  const dir = join(dataDir, "store");
  if (!existsSync(dir)) {
    throw new DaemonError(
      "NO_STORE",
      `there is no store in ${dir} (a daemon on PostgreSQL keeps none there: the database checks its own pages, and tether audit verify checks the chain)`,
      {
        status: status.NOT_FOUND,
      },
    );
  }
  return dir;
}

async function inspect(dataDir: string): Promise<Inspection<Tables>> {
  try {
    return await Store.inspect<Tables>(storeDir(dataDir), STORE_TABLES);
  } catch (err) {
    if (err instanceof StoreError && err.code === "LOCKED") {
      throw new DaemonError("DATA_DIR_IN_USE", `a daemon is running on ${dataDir}: stop it first (store check and repair work offline)`, {
        cause: err,
        status: status.FAILED_PRECONDITION,
      });
    }
    throw err;
  }
}

async function examine(dataDir: string, ins: Inspection<Tables>): Promise<Examined> {
  const problems = [...ins.problems];
  const notes: string[] = [];
  let records = 0;
  let head: HeadCheck | undefined;
  let audit: VerifyResult | null = null;
  let breaks: ChainBreak[] = [];
  const markers: string[] = [];
  const store = ins.store;
  if (store && ins.schema === 2) {
    const all = await store.verifyAll();
    records = all.records;
    problems.push(...all.problems);
    const auditDamaged = all.problems.some((p) => p.table === "audit" || p.table === "auditHead" || p.kind === ProblemKind.Unopenable);
    if (auditDamaged) notes.push("the audit chain was not checked: some of its records are damaged (a repair drops them, then checks its head)");
    else {
      const log = new AuditLog<PairingTables & JobTables>(store, Date.now);
      head = await log.checkHead();
      if (!head.ok) problems.push({ kind: ProblemKind.Content, message: `audit log: ${head.reason}` });
      audit = await log.verify();
      breaks = (await log.breaks()).filter((b) => b.acceptedBy === undefined);
      if (!audit.ok && head.ok) {
        notes.push(
          `the audit chain is broken at entry ${audit.brokenAt} (${audit.reason}): entries lost from the middle cannot come back, nor can the next one be re-linked without rewriting it; ` +
            (breaks.length
              ? "`tether store repair --yes` records the break as accepted, and `tether audit verify` then lists it"
              : "it is not a break a repair can accept (an entry was changed)"),
        );
      }
    }
    for (const m of INDEX_MARKERS) {
      if (await store.get(m.table, m.key).catch(() => undefined)) markers.push(`${m.table}/${m.key}`);
    }
  } else if (store) {
    notes.push(`schema ${ins.schema ?? "?"}: its records have no checksums yet (the daemon's next start adds them), so they were not checked`);
  }
  const check: StoreCheck = {
    dataDir,
    ok: problems.length === 0 && (audit?.ok ?? true),
    damaged: problems.length > 0,
    schema: ins.schema ?? null,
    records,
    writeSeq: ins.seq ?? null,
    witness: ins.witness?.state === "ok" ? ins.witness.seq : null,
    problems,
    notes,
    audit,
  };
  return { check, head, markers, breaks };
}

/**
 * Check the store of a stopped daemon, reading every record.
 * @throws DaemonError NO_STORE, DATA_DIR_IN_USE
 */
export async function checkStore(dataDir: string): Promise<StoreCheck> {
  const ins = await inspect(dataDir);
  try {
    return (await examine(dataDir, ins)).check;
  } finally {
    await ins.store?.close();
  }
}

function plan(ex: Examined): RepairAction[] {
  const out: RepairAction[] = [];
  const { problems } = ex.check;
  let lossy = false;
  for (const p of problems) {
    switch (p.kind) {
      case ProblemKind.Unopenable:
        out.push({
          action: "leveldb-repair",
          message: `run LevelDB's own repair: it rebuilds the store's file index from the table and log files it can read and moves what it cannot into store/lost/ (then the store is checked again, and what is left is repaired too) [${p.message}]`,
        });
        lossy = true;
        break;
      case ProblemKind.BadRecord:
        out.push({
          action: "drop-record",
          raw: p.raw as string,
          message: `drop ${p.table ? `record ${p.table}/${p.key}` : `the key ${JSON.stringify(p.raw)}`} (it fails its checksum)`,
        });
        lossy = true;
        break;
      case ProblemKind.WalDamaged:
        out.push({
          action: "accept-lost-writes",
          message: `accept that the writes in the damaged part of the write-ahead log are lost (nothing can bring them back) [${p.message}]`,
        });
        lossy = true;
        break;
      case ProblemKind.LostWrites:
        out.push({
          action: "reset-witness",
          message: `reset the lost-writes witness from #${p.witness} to #${p.seq}, the store's last write (accepting that the ${(p.witness ?? 0) - (p.seq ?? 0)} commit(s) after it are lost)`,
        });
        break;
      case ProblemKind.Witness:
        out.push({ action: "reset-witness", message: `write a new lost-writes witness at the store's last write (#${ex.check.writeSeq ?? 0})` });
        break;
      case ProblemKind.Meta:
        out.push({ action: "write-meta", message: `write the store's schema and write-sequence records again [${p.message}]` });
        break;
      case ProblemKind.Content:
        break; // the audit head: below
    }
  }
  out.push(...headActions(ex.head));
  for (const b of ex.breaks.slice(0, MAX_GAPS_ACCEPTED)) {
    out.push({
      action: "accept-audit-gap",
      message: `accept the break in the audit chain before entry ${b.at} (${b.reason}): what was lost cannot come back; \`tether audit verify\` will list the break as accepted by this repair`,
    });
  }
  if (!ex.head && problems.some((p) => p.table === "audit" || p.table === "auditHead")) {
    out.push({ action: "reset-audit-head", message: "check the audit chain's head once the damaged audit records are dropped, and reset it to the last whole entry if need be" });
  }
  if (lossy) {
    for (const m of INDEX_MARKERS) {
      if (ex.markers.includes(`${m.table}/${m.key}`))
        out.push({ action: "rebuild-index", raw: `${m.table}/${m.key}`, message: `rebuild ${m.what} from the records at the next start` });
    }
  }
  return out;
}

function headActions(head: HeadCheck | undefined): RepairAction[] {
  if (!head || head.ok) return [];
  return [
    { action: "reset-audit-head", message: `reset the audit chain's head to entry ${head.lastGood?.seq ?? 0}, the last one whose hash and link check [${head.reason}]` },
    ...head.changed.map((e): RepairAction => ({ action: "drop-audit-entry", message: `drop audit entry ${e.seq} (${e.type}), which was changed after it was written` })),
  ];
}

/**
 * Plan a repair of a stopped daemon's store and, with `apply`, carry it out and record it in
 * the audit log.
 * @throws DaemonError NO_STORE, DATA_DIR_IN_USE, UNREPAIRABLE (LevelDB's repair could not make
 * the store openable)
 */
export async function repairStore(dataDir: string, o: { apply: boolean; now?: () => number }): Promise<StoreRepair> {
  const now = o.now ?? Date.now;
  let ins = await inspect(dataDir);
  let ex: Examined;
  try {
    ex = await examine(dataDir, ins);
  } finally {
    await ins.store?.close();
  }
  const before = ex.check;
  const planned = plan(ex);
  if (!o.apply || planned.length === 0) return { dataDir, applied: false, actions: planned, before };

  const done: RepairAction[] = [];
  let leveldb: string[] | undefined;
  if (planned.some((a) => a.action === "leveldb-repair")) {
    leveldb = await Store.repairLevel(join(dataDir, "store"));
    done.push(...planned.filter((a) => a.action === "leveldb-repair"));
  }
  ins = await inspect(dataDir);
  const store = ins.store;
  if (!store) {
    throw new DaemonError("UNREPAIRABLE", `LevelDB's repair could not make the store openable: ${ins.problems.map((p) => p.message).join("; ")}`, { status: status.DATA_LOSS });
  }
  let auditEntry: AuditEntry;
  try {
    ex = await examine(dataDir, ins);
    const actions = plan(ex).filter((a) => a.action !== "leveldb-repair" && a.action !== "reset-audit-head" && a.action !== "drop-audit-entry" && a.action !== "accept-audit-gap");
    const drop = actions.filter((a) => a.action === "drop-record").map((a) => a.raw as string);
    if (drop.length) await store.dropRaw(drop);
    const rebuild = actions.filter((a) => a.action === "rebuild-index").map((a) => a.raw as string);
    if (rebuild.length) {
      await store.batch(
        rebuild.map((r) => {
          const [table, key] = r.split("/") as [keyof Tables & string, string];
          return { table, type: "del", key };
        }),
      );
    }
    done.push(...actions);
    // The head, once damaged audit records are gone (dropping one may be what breaks it).
    const log = new AuditLog<PairingTables & JobTables>(store, now);
    const head = await log.checkHead();
    if (!head.ok) {
      await log.resetHead(head.lastGood, head.changed);
      done.push(...headActions(head));
    }
    // The breaks left once the head is whole again, accepted by the entry written below (it is
    // chained after them, which is what verify() asks of an acceptance).
    const gaps = (await log.breaks()).filter((b) => b.acceptedBy === undefined).slice(0, MAX_GAPS_ACCEPTED);
    done.push(...gaps.map((b): RepairAction => ({ action: "accept-audit-gap", message: `accept the break in the audit chain before entry ${b.at} (${b.reason})` })));
    const chain = await log.verify();
    const lost = ex.check.problems.filter((p) => p.kind === ProblemKind.LostWrites);
    const wal = ex.check.problems.filter((p) => p.kind === ProblemKind.WalDamaged);
    auditEntry = await log.append(AuditEvent.StoreRepaired, "admin", "store", {
      leveldbRepair: Boolean(leveldb),
      droppedRecords: drop.length,
      ...(drop.length ? { dropped: clip(drop.map((r) => r.replace(/^!([^!]*)!/, "$1/")).join(", "), 1000) } : {}),
      ...(wal.length ? { walBytesLost: wal.reduce((n, p) => n + (p.bytes ?? 0), 0) } : {}),
      ...(lost.length ? { lostWrites: lost.map((p) => `#${(p.seq ?? 0) + 1}..#${p.witness}`).join(", ") } : {}),
      ...(!head.ok ? { auditHeadReset: head.lastGood?.seq ?? 0, auditEntriesDropped: head.changed.length } : {}),
      ...(rebuild.length ? { indexesRebuilt: rebuild.join(", ") } : {}),
      ...(gaps.length ? { [GAPS_ACCEPTED_DETAIL]: gaps.map((b) => b.link).join(",") } : {}),
      ...(!chain.ok && !gaps.some((g) => g.at === chain.brokenAt) ? { auditBrokenAt: chain.brokenAt, auditBroken: clip(chain.reason, 200) } : {}),
      problems: clip(ex.check.problems.map((p) => p.message).join("; "), 2000),
    });
    await store.accept(); // schema, write sequence, a new witness; the damage record cleared
  } finally {
    await store.close();
  }
  const after = await checkStore(dataDir);
  return { dataDir, applied: true, actions: done, auditEntry: auditEntry.seq, ...(leveldb ? { leveldb } : {}), before, after };
}
