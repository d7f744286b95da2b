/**
 * The audit log: security-relevant events appended to the store, each entry hash-chained to
 * the one before, so that changing, removing or reordering an entry is detected by verify().
 * Someone who can write the store can also rebuild the chain from an entry on; a head hash
 * kept outside the data directory and given to verify() catches that.
 *
 * The log is also the repository the core packages write through: a batch that carries audit
 * events gets their entries and the new head in the same atomic write as the change they
 * record, so a crash leaves both or neither. Storage and the clock are injected.
 */
import { AuditEvent, Mutex, clip, isConflict } from "@tether/base";
import type { AuditRecord, BatchOptions, Expectation, Op, Repository, ScanOptions, Schema } from "@tether/base";
import { sha256Hex, transcript, u64be } from "@tether/crypto";

export { AuditEvent };
export const AUDIT_GENESIS = "0".repeat(64);
/** How often an audited batch chains itself again after another writer moved the head. */
export const HEAD_RETRIES = 8;

export type AuditEntry = {
  id: string; // the sequence number, zero-padded to 16 digits so keys sort in order
  seq: number;
  time: number;
  type: string;
  actor: string; // "admin", a device id, "preauthorization", or "anonymous" for unauthenticated pairing calls
  subject: string; // what it is about: a code, request, device or job id
  details: Record<string, string | number | boolean>;
  prev: string; // hash of the previous entry (AUDIT_GENESIS for the first)
  hash: string;
};
export type AuditHead = { id: "head"; seq: number; hash: string };
export type AuditTables = { audit: AuditEntry; auditHead: AuditHead };
export const AUDIT_TABLES = ["audit", "auditHead"] as const;

/**
 * Size caps every entry is held to when it is appended, whoever the writer (lengths in UTF-16
 * code units). A longer value is cut and marked with how much was cut (`…(+N chars)`);
 * details fields past the limit are dropped and counted in a field named `…` (`"+N fields"`).
 * So an entry's text is bounded (actor and subject 256 each, details about 12 000) even when
 * a writer passes text from outside at full length.
 */
export const AUDIT_NAME_MAX_CHARS = 256;
/** details: at most this many fields, */
export const AUDIT_DETAILS_MAX_FIELDS = 32;
/** each key at most this long, */
export const AUDIT_DETAIL_KEY_MAX_CHARS = 64;
/** and all string values together at most this long (each is clipped to what is left). */
export const AUDIT_DETAILS_MAX_CHARS = 8192;

/** `details` held to the caps above (fields in the order given). */
export function capDetails(details: AuditEntry["details"]): AuditEntry["details"] {
  const out: AuditEntry["details"] = {};
  const fields = Object.entries(details);
  let left = AUDIT_DETAILS_MAX_CHARS;
  for (const [k, v] of fields.slice(0, AUDIT_DETAILS_MAX_FIELDS)) {
    if (typeof v === "string") {
      const kept = clip(v, left);
      left -= Math.min(v.length, left);
      out[clip(k, AUDIT_DETAIL_KEY_MAX_CHARS)] = kept;
    } else out[clip(k, AUDIT_DETAIL_KEY_MAX_CHARS)] = v;
  }
  if (fields.length > AUDIT_DETAILS_MAX_FIELDS) out["…"] = `+${fields.length - AUDIT_DETAILS_MAX_FIELDS} fields`;
  return out;
}

/** An event's actor, subject and details held to the caps (what append() stores and hashes). */
export function capRecord<R extends { actor: string; subject: string; details?: AuditEntry["details"] }>(r: R): R & { details: AuditEntry["details"] } {
  return { ...r, actor: clip(r.actor, AUDIT_NAME_MAX_CHARS), subject: clip(r.subject, AUDIT_NAME_MAX_CHARS), details: capDetails(r.details ?? {}) };
}

/** hash = SHA-256(transcript("tether/audit/v1", [seq, time, type, actor, subject, details JSON, prev])) */
export function entryHash(e: Omit<AuditEntry, "id" | "hash">): string {
  const details = JSON.stringify(Object.fromEntries(Object.entries(e.details).sort(([a], [b]) => (a < b ? -1 : 1))));
  return sha256Hex(transcript("tether/audit/v1", [u64be(e.seq), u64be(e.time), e.type, e.actor, e.subject, details, e.prev]));
}

/**
 * A break in the chain that a `tether store repair` accepted: entries lost from the middle of
 * the log (a damaged write-ahead log) cannot come back, nor can the entry after them be
 * re-linked without rewriting it. The repair's own `store.repaired` entry, chained after the
 * break, names each break it accepts in `details.auditGapsAccepted` as `SEQ:PREV` (the entry
 * after the gap and the previous-hash it carries), comma-separated.
 */
export type AcceptedGap = { at: number; reason: string; acceptedBy: number };
/** The detail of a `store.repaired` entry that lists the breaks it accepts. */
export const GAPS_ACCEPTED_DETAIL = "auditGapsAccepted";
/** At most this many breaks are listed in one repair entry (the rest stay reported). */
export const MAX_GAPS_ACCEPTED = 40; // 40 links of about 85 characters stay well inside the details cap

/**
 * A break in the chain before the entry `at`, which itself is whole; `link` names it
 * (SEQ:PREV); `acceptedBy` is the repair entry that accepted it, if one did.
 */
export type ChainBreak = { at: number; link: string; reason: string; acceptedBy?: number };

/** The breaks (SEQ:PREV) that `store.repaired` entries accepted, each with the entry that did. */
function acceptedLinks(all: readonly AuditEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of all) {
    const listed = e.type === AuditEvent.StoreRepaired ? e.details[GAPS_ACCEPTED_DETAIL] : undefined;
    if (typeof listed === "string") for (const link of listed.split(",")) if (link) out.set(link, e.seq);
  }
  return out;
}

export type VerifyResult =
  /** gaps: breaks a repair accepted; the chain is otherwise whole (always shown to the admin) */
  | { ok: true; entries: number; head: string; gaps: AcceptedGap[] }
  /** brokenAt: the first bad entry, or 0 when only a kept head is missing (its entry cannot be named) */
  | { ok: false; entries: number; brokenAt: number; reason: string };

/** What verify() can check beyond the chain itself. */
export type VerifyOptions = {
  /** a head hash printed by an earlier verify and kept outside the data directory: the chain must still contain it */
  head?: string;
};

/** Which entries to read: see AuditLog.entries(). */
export type EntriesQuery = { since?: number; limit?: number; before?: number };

/**
 * The end of the chain, checked without walking it (at every start): `last` is the last entry
 * when the head names it and it is whole; otherwise `reason` says what is wrong, and `lastGood`
 * is the last entry whose hash and link still check (the head a repair would set; entries after
 * it are `changed`).
 */
export type HeadCheck = { ok: true; last?: AuditEntry } | { ok: false; reason: string; lastGood?: AuditEntry; changed: AuditEntry[] };

/** What adapters need of the log: append events on their own, read and check the chain. */
export interface AuditTrail {
  append(type: AuditEvent, actor: string, subject: string, details?: AuditEntry["details"]): Promise<AuditEntry>;
  /** Several events in one durable write (one fsync), in order. */
  appendAll(events: readonly AuditRecord[]): Promise<AuditEntry[]>;
  entries(o?: EntriesQuery): Promise<AuditEntry[]>;
  verify(o?: VerifyOptions): Promise<VerifyResult>;
}

/** The key of entry `seq` in the audit table: zero-padded, so keys sort as numbers do. */
function entryId(seq: number): string {
  return String(seq).padStart(16, "0");
}

export class AuditLog<S extends Schema = AuditTables> implements Repository<S & AuditTables>, AuditTrail {
  readonly #repo: Repository<S & AuditTables>;
  readonly #now: () => number;
  readonly #mutex = new Mutex();
  /** the chain's head as last handed to the store (undefined: read it from the store) */
  #head: AuditHead | undefined;
  readonly #appendListeners: ((entries: readonly AuditEntry[]) => void)[] = [];

  /** more writes derived from each batch (its writes and its entries), made in the same atomic write: the webhooks' outbox */
  readonly #alongside: ((ops: readonly Op<S & AuditTables>[], entries: readonly AuditEntry[]) => Op<S & AuditTables>[]) | undefined;

  constructor(
    repo: Repository<S & AuditTables>,
    now: () => number,
    o: { alongside?: (ops: readonly Op<S & AuditTables>[], entries: readonly AuditEntry[]) => Op<S & AuditTables>[] } = {},
  ) {
    this.#repo = repo;
    this.#now = now;
    this.#alongside = o.alongside;
  }

  get<T extends keyof (S & AuditTables) & string>(table: T, id: string): Promise<(S & AuditTables)[T] | undefined> {
    return this.#repo.get(table, id);
  }

  list<T extends keyof (S & AuditTables) & string>(table: T): Promise<(S & AuditTables)[T][]> {
    return this.#repo.list(table);
  }

  scan<T extends keyof (S & AuditTables) & string>(table: T, o?: ScanOptions): Promise<(S & AuditTables)[T][]> {
    return this.#repo.scan(table, o);
  }

  /**
   * Write `ops` and the entries for `options.audit` in one atomic batch. Entries are chained
   * under a mutex and handed to the store in chain order; the store applies batches in call
   * order (and may commit several in one write), so the chain on disk is never out of order.
   */
  async batch(ops: readonly Op<S & AuditTables>[], options: BatchOptions = {}): Promise<void> {
    await this.#write(ops, options.audit ?? [], options.sync ?? true, options.expect ?? []);
  }

  /**
   * Be told of the entries of every audited write once it is durable (for counting, e.g. the
   * daemon's metrics). A listener that throws is ignored: the write has succeeded.
   */
  onAppend(fn: (entries: readonly AuditEntry[]) => void): void {
    this.#appendListeners.push(fn);
  }

  /** Append one event on its own, durably. */
  async append(type: AuditEvent, actor: string, subject: string, details: AuditEntry["details"] = {}): Promise<AuditEntry> {
    const [entry] = await this.#write([], [{ type, actor, subject, details }], true);
    return entry as AuditEntry;
  }

  /** Append several events on their own in one durable write. */
  appendAll(events: readonly AuditRecord[]): Promise<AuditEntry[]> {
    return events.length ? this.#write([], events, true) : Promise.resolve([]);
  }

  /**
   * The chain's head is a compare-and-set on a store other processes write too (not
   * singleWriter): each audited batch expects the head it chained from, so two processes
   * appending to one database (replicas) never fork the chain. One that finds
   * the head moved (only the head: a caller's own expectations are the caller's) reads it again
   * and chains its entries anew, up to HEAD_RETRIES times.
   */
  async #write(ops: readonly Op<S & AuditTables>[], events: readonly AuditRecord[], sync: boolean, expect: readonly Expectation[] = []): Promise<AuditEntry[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#writeOnce(ops, events, sync, expect);
      } catch (err) {
        const headOnly = isConflict(err) && err.conflicts.length > 0 && err.conflicts.every((c) => c.table === "auditHead");
        if (!headOnly || attempt >= HEAD_RETRIES) throw err;
      }
    }
  }

  async #writeOnce(ops: readonly Op<S & AuditTables>[], events: readonly AuditRecord[], sync: boolean, expect: readonly Expectation[]): Promise<AuditEntry[]> {
    // Every batch, with events or not, passes the same FIFO mutex on its way to the store, so
    // batches reach the store in call order (callers may pipeline writes without awaiting).
    const { written, entries } = await this.#mutex.run(async () => {
      if (events.length === 0) {
        const more = this.#alongside?.(ops, []) ?? [];
        return { written: this.#repo.batch(more.length ? [...ops, ...more] : ops, { sync, ...(expect.length ? { expect } : {}) }), entries: [] as AuditEntry[] };
      }
      const from = this.#head ?? (await this.#repo.get("auditHead", "head"));
      let head = from ?? { id: "head" as const, seq: 0, hash: AUDIT_GENESIS };
      const time = this.#now();
      const entries: AuditEntry[] = [];
      for (const ev of events) {
        const { actor, subject, details } = capRecord(ev);
        const base = { seq: head.seq + 1, time, type: ev.type, actor, subject, details, prev: head.hash };
        const entry: AuditEntry = { id: entryId(base.seq), ...base, hash: entryHash(base) };
        entries.push(entry);
        head = { id: "head", seq: entry.seq, hash: entry.hash };
      }
      const all: Op<S & AuditTables>[] = [
        ...ops,
        ...(this.#alongside?.(ops, entries) ?? []),
        ...entries.map((value) => ({ table: "audit", type: "put", value }) as Op<S & AuditTables>),
        { table: "auditHead", type: "put", value: head } as Op<S & AuditTables>,
      ];
      // Handed to the store before the mutex is released (the store queues it at once), but
      // not awaited here: the next audited batch can join the same group commit.
      // Another process could move the head only on a store others write too (singleWriter).
      const guard = this.#repo.singleWriter ? expect : [...expect, { table: "auditHead", id: "head", value: from }];
      const written = this.#repo.batch(all, { sync, ...(guard.length ? { expect: guard } : {}) });
      this.#head = head;
      return { written, entries };
    });
    try {
      await written;
    } catch (err) {
      this.#head = undefined; // the store did not take it: read the head again next time
      throw err;
    }
    if (entries.length) {
      for (const fn of this.#appendListeners) {
        try {
          fn(entries);
        } catch {
          // a listener's own mistake; the entries are written
        }
      }
    }
    return entries;
  }

  /**
   * Entries in seq order. With `limit`: the newest `limit` entries below seq `before` (all
   * when 0), read backwards by key so only those are read, then of those the ones from time
   * `since` on (so fewer may come back). Without `limit`: every entry below `before` from
   * `since` on (this reads the whole table).
   */
  async entries(o: EntriesQuery = {}): Promise<AuditEntry[]> {
    const below = o.before ? { lt: entryId(o.before) } : {};
    const read = o.limit ? (await this.#repo.scan("audit", { ...below, reverse: true, limit: o.limit })).reverse() : await this.#repo.scan("audit", below);
    return read.filter((e) => !o.since || e.time >= o.since);
  }

  async checkHead(): Promise<HeadCheck> {
    const head = await this.#repo.get("auditHead", "head");
    const tail = await this.#repo.scan("audit", { reverse: true, limit: 2 });
    const last = tail[0];
    // An entry is whole when its hash checks and it links to its predecessor (when that is
    // there: a gap before it is for verify() to report, not a reason to distrust it).
    const whole = (e: AuditEntry, before: AuditEntry | undefined) =>
      entryHash(e) === e.hash && (e.seq === 1 ? e.prev === AUDIT_GENESIS : before?.seq !== e.seq - 1 || e.prev === before.hash);
    let reason: string | undefined;
    if (!last) reason = head && head.seq > 0 ? `the head names entry ${head.seq} but the log is empty: entries were removed` : undefined;
    else if (!head) reason = `the head record is missing, but the log has entries up to ${last.seq}`;
    else if (last.seq > head.seq) reason = `the log has entries after the head (up to ${last.seq}, the head names ${head.seq}): the head was rolled back`;
    else if (last.seq < head.seq) reason = `the head names entry ${head.seq} but the log ends at entry ${last.seq}: entries were removed`;
    else if (last.hash !== head.hash || !whole(last, tail[1])) reason = `the last entry (${last.seq}) was changed after it was written`;
    if (!reason) return last ? { ok: true, last } : { ok: true };
    // Walk back to the last entry that is whole; those after it cannot be trusted.
    const changed: AuditEntry[] = [];
    let lastGood: AuditEntry | undefined;
    let lt: string | undefined;
    while (!lastGood) {
      const page = await this.#repo.scan("audit", { reverse: true, limit: 256, ...(lt ? { lt } : {}) });
      for (let i = 0; i < page.length && !lastGood; i++) {
        const e = page[i] as AuditEntry;
        const before = page[i + 1] ?? (e.seq > 1 ? await this.#repo.get("audit", String(e.seq - 1).padStart(16, "0")) : undefined);
        if (whole(e, before)) lastGood = e;
        else changed.push(e);
      }
      if (page.length < 256) break;
      lt = (page[page.length - 1] as AuditEntry).id;
    }
    return { ok: false, reason, ...(lastGood ? { lastGood } : {}), changed };
  }

  /** Make `to` the head (none: an empty log), deleting the entries in `drop` (a repair). */
  async resetHead(to: AuditEntry | undefined, drop: readonly AuditEntry[]): Promise<void> {
    await this.#mutex.run(async () => {
      const head: AuditHead = { id: "head", seq: to?.seq ?? 0, hash: to?.hash ?? AUDIT_GENESIS };
      await this.#repo.batch([
        ...drop.map((e) => ({ table: "audit", type: "del", key: e.id }) as Op<S & AuditTables>),
        { table: "auditHead", type: "put", value: head } as Op<S & AuditTables>,
      ]);
      this.#head = head;
    });
  }

  /**
   * Every break in the chain before an entry that is itself whole (entries missing before it,
   * or a link to a predecessor that is not there): what a repair can accept. Entries changed
   * after they were written are not breaks a repair accepts.
   */
  async breaks(): Promise<ChainBreak[]> {
    const all = (await this.#repo.list("audit")).sort((a, b) => a.seq - b.seq);
    const accepted = acceptedLinks(all);
    const out: ChainBreak[] = [];
    let prev = AUDIT_GENESIS;
    let expected = 1;
    for (const e of all) {
      if (entryHash(e) === e.hash && (e.seq !== expected || e.prev !== prev)) {
        const link = `${e.seq}:${e.prev}`;
        const by = accepted.get(link);
        const reason = e.seq !== expected ? `entries ${expected}..${e.seq - 1} are missing` : `entry ${e.seq} does not link to entry ${e.seq - 1}`;
        out.push({ at: e.seq, link, reason, ...(by !== undefined && by > e.seq ? { acceptedBy: by } : {}) });
      }
      prev = e.hash;
      expected = e.seq + 1;
    }
    return out;
  }

  /**
   * Walk the chain from the first entry and say where, if anywhere, it breaks. With a kept
   * `head`, also require an entry with that hash: a chain rebuilt (hashes, links and head
   * recomputed) from that entry or an earlier one no longer has it. Breaks a repair accepted
   * (AcceptedGap) do not fail it; they are listed in the answer.
   */
  async verify(o: VerifyOptions = {}): Promise<VerifyResult> {
    const all = (await this.#repo.list("audit")).sort((a, b) => a.seq - b.seq);
    const accepted = acceptedLinks(all);
    const gaps: AcceptedGap[] = [];
    let prev = AUDIT_GENESIS;
    let expected = 1;
    for (const e of all) {
      const bad = (reason: string): VerifyResult => ({ ok: false, entries: all.length, brokenAt: e.seq, reason });
      const whole = entryHash(e) === e.hash;
      const gap =
        e.seq !== expected ? `entry ${expected} is missing (found ${e.seq} in its place)` : e.prev !== prev ? `entry ${e.seq} does not link to entry ${e.seq - 1}` : undefined;
      if (gap) {
        // Only a repair entry chained after the break can accept it, and only for a whole entry.
        const by = accepted.get(`${e.seq}:${e.prev}`);
        if (!whole || by === undefined || by <= e.seq) return bad(gap);
        gaps.push({ at: e.seq, reason: gap, acceptedBy: by });
      }
      if (!whole) return bad(`entry ${e.seq} was changed after it was written`);
      prev = e.hash;
      expected = e.seq + 1;
    }
    const lastSeq = expected - 1;
    const head = await this.#repo.get("auditHead", "head");
    if ((head?.seq ?? 0) === lastSeq && lastSeq > 0 && (head?.hash ?? AUDIT_GENESIS) !== prev) {
      return { ok: false, entries: all.length, brokenAt: lastSeq, reason: `entry ${lastSeq} is not the one the head record names: it was rewritten` };
    }
    if ((head?.seq ?? 0) !== lastSeq || (head?.hash ?? AUDIT_GENESIS) !== prev) {
      return { ok: false, entries: all.length, brokenAt: lastSeq + 1, reason: `the head names entry ${head?.seq ?? 0} but the log ends at ${lastSeq}: entries were removed` };
    }
    if (o.head !== undefined && !all.some((e) => e.hash === o.head)) {
      return {
        ok: false,
        entries: all.length,
        brokenAt: 0,
        reason: `no entry has the kept head hash ${o.head}: the log was rewritten at or before the entry it was the head of (or that head is from another log)`,
      };
    }
    return { ok: true, entries: all.length, head: prev, gaps };
  }
}
