/**
 * The LevelDB store (via `level`): one sublevel a table, JSON records keyed by their `id`,
 * and atomic, fsynced batches across tables. The only module in tether that imports `level`.
 * It knows nothing of what the records mean; their types come from the caller.
 *
 * Integrity (integrity.ts): each record carries a checksum verified on every read; every
 * durable group commit advances a write sequence kept in the store and, after the commit, in
 * a witness file beside it; at open the store is checked (LevelDB's recovery log, the witness,
 * an earlier damage record) and refused if damaged. The first failed write puts the store in a
 * failed state in which it refuses every further write (fail closed), and tells its listeners.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Level } from "level";
import { GroupCommit, expectedText } from "@tether/base";
import type { BatchOptions, Conflict, Expectation, Member, Op, Repository, ScanOptions, Schema } from "@tether/base";
import { StoreError } from "./errors.js";
import type { StoreProblem, WitnessState } from "./integrity.js";
import { ProblemKind, WITNESS_FILE, clearDamage, readDamage, readWitness, resetWitness, seal, unseal, walProblems, witnessText, writeDamage } from "./integrity.js";

/** 1: plain JSON values; 2: checksummed values, a write sequence and its witness. */
export const SCHEMA_VERSION = 2;
const SCHEMA_KEY = "meta:schema";
const SEQ_KEY = "meta:seq";
/** the "table" name meta values are sealed under */
const META = "meta";
const MIGRATE_BATCH = 10_000;
/** Tests without a mountable small disk switch failing writes on by creating this file. */
export const FAULT_FILE_ENV = "TETHER_STORE_FAULT_FILE";

export type { Op, Schema } from "@tether/base";

/** One write, checked and serialised, waiting for its group (no sublevel: a raw root key). */
type Encoded = { put: boolean; table: string; sublevel?: Sub; key: string; value?: string };

/** The part of a sublevel the store uses (keeps level's deep generics out of the types). */
type Sub = {
  get(key: string): Promise<string | undefined>;
  iterator(o?: ScanOptions): AsyncIterable<[string, string]>;
};

/** What an open found, for `tether store check` and `repair`. */
export type Inspection<S extends Schema> = {
  /** undefined when LevelDB cannot open the store at all */
  store?: Store<S>;
  problems: StoreProblem[];
  schema?: number;
  seq?: number;
  witness?: WitnessState;
};

/** `!table!id` (a sublevel's key, as LevelDB holds it) split, or undefined. */
function tableOf(raw: string): { table: string; id: string } | undefined {
  if (raw[0] !== "!") return undefined;
  const i = raw.indexOf("!", 1);
  return i < 0 ? undefined : { table: raw.slice(1, i), id: raw.slice(i + 1) };
}

function codeChain(err: unknown): string[] {
  const out: string[] = [];
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (typeof e.code === "string") out.push(e.code);
  }
  return out;
}

function messageChain(err: unknown): string {
  const out: string[] = [];
  for (let e = err as { message?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (typeof e.message === "string" && !out.includes(e.message)) out.push(e.message);
  }
  return out.join(": ");
}

/** A batch whose expectations did not hold (BatchOptions.expect). */
function conflictError(conflicts: readonly Conflict[]): StoreError {
  const named = conflicts.map((c) => `${c.table}/${JSON.stringify(c.id).slice(1, -1)}`).join(", ");
  return new StoreError("CONFLICT", `the batch was not written: ${named} changed since it was read`, { conflicts });
}

function damaged(dir: string, problems: readonly StoreProblem[]): StoreError {
  const list = problems.map((p) => `  - ${p.message}`).join("\n");
  return new StoreError("DAMAGED", `the store in ${dir} is damaged:\n${list}`, { problems });
}

/** LevelDB's own files in a directory (a store with these but no CURRENT has lost its root). */
function hasLevelFiles(dir: string): boolean {
  try {
    return readdirSync(dir).some((f) => /^(\d+\.(log|ldb|sst)|MANIFEST-\d+)$/.test(f));
  } catch {
    return false;
  }
}

export class Store<S extends Schema> implements Repository<S> {
  /** LevelDB's LOCK file: no other process writes this store while it is open. */
  readonly singleWriter = true;
  readonly #db: Level<string, string>;
  readonly #dir: string;
  readonly #subs: Map<string, Sub>;
  readonly #schema: number;
  readonly #fault: string | undefined;
  readonly #failureListeners: ((err: StoreError) => void)[] = [];
  readonly #commitListeners: ((seconds: number, durable: boolean) => void)[] = [];
  readonly #group = new GroupCommit<Encoded, Expectation>((members, sync) => this.#commitGroup(members, sync));
  /** the sequence number of the last durable group commit */
  #seq: number;
  #witnessFd: number | undefined;
  #failure: StoreError | undefined;
  #corruptReads = 0;

  private constructor(db: Level<string, string>, dir: string, tables: readonly string[], schema: number, seq: number) {
    this.#db = db;
    this.#dir = dir;
    this.#schema = schema;
    this.#seq = seq;
    this.#fault = process.env[FAULT_FILE_ENV] || undefined;
    this.#subs = new Map(tables.map((t) => [t, db.sublevel<string, string>(t, { valueEncoding: "utf8" }) as unknown as Sub]));
    if (existsSync(join(dir, WITNESS_FILE))) this.#witnessFd = openSync(join(dir, WITNESS_FILE), "r+");
  }

  /**
   * Open (creating if needed) the store in `dir`, check it, and migrate an older schema.
   * LevelDB's LOCK file makes this exclusive.
   * @throws StoreError LOCKED when another process has the store open; DAMAGED (with every
   * problem found) when it fails its checks, and then also on every later open until a repair;
   * UNSUPPORTED; OPEN_FAILED.
   */
  static async open<S extends Schema>(dir: string, tables: readonly (keyof S & string)[]): Promise<Store<S>> {
    const r = await Store.#open<S>(dir, tables, false);
    return r.store as Store<S>;
  }

  /**
   * Open for maintenance (`tether store check`/`repair`): never creates a store, never
   * refuses, and reports what it found. Problems found now are recorded like at a normal open.
   * @throws StoreError LOCKED, UNSUPPORTED, OPEN_FAILED.
   */
  static inspect<S extends Schema>(dir: string, tables: readonly (keyof S & string)[]): Promise<Inspection<S>> {
    return Store.#open<S>(dir, tables, true);
  }

  /**
   * LevelDB's own repair (RepairDB): rebuilds the MANIFEST from the table and log files it can
   * read and moves what it cannot into `lost/`. Returns the lines of LevelDB's log about it.
   */
  static async repairLevel(dir: string): Promise<string[]> {
    await (Level as unknown as { repair(dir: string): Promise<void> }).repair(dir);
    try {
      return readFileSync(join(dir, "LOG"), "utf8")
        .split("\n")
        .map((l) => l.replace(/^\S+ \S+ \S+ /, "").trim())
        .filter(Boolean);
    } catch {
      return [];
    }
  }

  static async #open<S extends Schema>(dir: string, tables: readonly string[], maintenance: boolean): Promise<Inspection<S>> {
    const earlier = readDamage(dir);
    if (earlier.length && !maintenance) throw damaged(dir, earlier);
    const found: StoreProblem[] = [];
    const record = (problems: StoreProblem[]) => {
      const all = [...earlier];
      for (const p of problems) if (!all.some((e) => e.message === p.message)) all.push(p);
      writeDamage(dir, all);
      return all;
    };
    if (existsSync(dir) && !existsSync(join(dir, "CURRENT")) && hasLevelFiles(dir)) {
      // LevelDB would start an empty store here and delete the old files as obsolete
      const all = record([{ kind: ProblemKind.Unopenable, message: "LevelDB's CURRENT file is missing (the store's files are there, but not the pointer to its MANIFEST)" }]);
      if (!maintenance) throw damaged(dir, all);
      return { problems: all };
    }
    const db = new Level<string, string>(dir, { valueEncoding: "utf8", createIfMissing: !maintenance });
    try {
      await db.open();
    } catch (cause) {
      const codes = codeChain(cause);
      if (codes.includes("LEVEL_LOCKED")) throw new StoreError("LOCKED", "the store is locked by another process", { cause });
      const text = messageChain(cause);
      if (codes.includes("LEVEL_CORRUPTION") || /Corruption/.test(text)) {
        const all = record([{ kind: ProblemKind.Unopenable, message: `LevelDB cannot open the store: ${text.replace(/^Database failed to open: /, "")}` }]);
        if (!maintenance) throw damaged(dir, all);
        return { problems: all };
      }
      throw new StoreError("OPEN_FAILED", `cannot open the store in ${dir}: ${text}`, { cause });
    }
    try {
      found.push(...walProblems(dir));
      const version = await db.get(SCHEMA_KEY);
      let schema = SCHEMA_VERSION;
      let seq = 0;
      let witness: WitnessState | undefined;
      if (version === undefined) {
        let empty = true;
        for await (const _ of db.keys({ limit: 1 })) empty = false;
        if (empty && maintenance)
          witness = { state: "missing" }; // nothing to check
        else if (empty) {
          resetWitness(dir, 0);
          await db.batch(
            [
              { type: "put", key: SCHEMA_KEY, value: String(SCHEMA_VERSION) },
              { type: "put", key: SEQ_KEY, value: seal(META, SEQ_KEY, "0") },
            ],
            { sync: true },
          );
          witness = { state: "ok", seq: 0 };
        } else if (!empty) {
          found.push({ kind: ProblemKind.Meta, message: "the schema record is missing from a store that has records" });
        }
      } else if (version === "1") {
        if (maintenance) schema = 1;
        else await migrate(db, dir);
        witness = maintenance ? undefined : { state: "ok", seq: 0 };
      } else if (version !== String(SCHEMA_VERSION)) {
        throw new StoreError("UNSUPPORTED", `store schema ${version} is not supported (expected ${SCHEMA_VERSION})`);
      }
      if (schema === SCHEMA_VERSION && !witness) {
        const raw = await db.get(SEQ_KEY);
        const text = raw === undefined ? undefined : unseal(META, SEQ_KEY, raw);
        const seqOk = text !== undefined && /^\d+$/.test(text);
        if (seqOk) seq = Number(text);
        else found.push({ kind: ProblemKind.Meta, message: "the write-sequence record is missing or damaged" });
        witness = readWitness(dir);
        if (witness.state === "missing") {
          found.push({ kind: ProblemKind.Witness, message: `the lost-writes witness ${WITNESS_FILE} is missing, so lost writes cannot be ruled out` });
        } else if (witness.state === "unreadable") {
          found.push({ kind: ProblemKind.Witness, message: `the lost-writes witness ${WITNESS_FILE} cannot be read, so lost writes cannot be ruled out` });
        } else if (seqOk && witness.seq > seq) {
          found.push({
            kind: ProblemKind.LostWrites,
            witness: witness.seq,
            seq,
            message: `writes up to #${witness.seq} were confirmed durable, but the store ends at write #${seq}: the last ${witness.seq - seq} durable commit(s) are lost (the end of the write-ahead log was cut off or rolled back)`,
          });
        }
        if (!seqOk && witness.state === "ok") seq = witness.seq; // go on from the witness
      }
      const problems = found.length ? record(found) : earlier;
      if (problems.length && !maintenance) throw damaged(dir, problems);
      return { store: new Store<S>(db, dir, tables, schema, seq), problems, schema, seq, ...(witness ? { witness } : {}) };
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** The first failed write, after which every write is refused; undefined while healthy. */
  get failure(): StoreError | undefined {
    return this.#failure;
  }

  /** How many reads found a damaged record since the store was opened. */
  get corruptReads(): number {
    return this.#corruptReads;
  }

  /** The sequence number of the last durable group commit. */
  get seq(): number {
    return this.#seq;
  }

  /** Called once, at the first failed write (the store refuses every write from then on). */
  onFailure(fn: (err: StoreError) => void): void {
    this.#failureListeners.push(fn);
  }

  /**
   * Called after each group commit that succeeded, with how long LevelDB's write took (with
   * its fsync when `durable`), in seconds. For the daemon's metrics: nothing is timed without
   * a listener.
   */
  onCommit(fn: (seconds: number, durable: boolean) => void): void {
    this.#commitListeners.push(fn);
  }

  /** Tell the commit listeners; one that throws is not a failed write, nor may it stop the drain. */
  #committed(seconds: number, durable: boolean): void {
    for (const fn of this.#commitListeners) {
      try {
        fn(seconds, durable);
      } catch {
        // a listener's own mistake; the write succeeded
      }
    }
  }

  #sub(table: string): Sub {
    const s = this.#subs.get(table);
    if (!s) throw new StoreError("NO_TABLE", `no table ${table}`);
    return s;
  }

  #decode<T>(table: string, key: string, raw: string): T {
    const json = this.#schema === 1 ? raw : unseal(table, key, raw);
    if (json === undefined) {
      this.#corruptReads++;
      throw new StoreError("CORRUPT", `record ${table}/${key} fails its checksum: the store is damaged`);
    }
    return JSON.parse(json) as T;
  }

  #readError(table: string, cause: unknown): Error {
    const codes = codeChain(cause);
    if (codes.includes("LEVEL_CORRUPTION")) {
      this.#corruptReads++;
      return new StoreError("CORRUPT", `LevelDB found table ${table} damaged: ${messageChain(cause)}`, { cause });
    }
    if (codes.includes("LEVEL_DATABASE_NOT_OPEN")) return new StoreError("CLOSED", "the store is closed", { cause });
    return cause as Error;
  }

  async get<T extends keyof S & string>(table: T, id: string): Promise<S[T] | undefined> {
    const sub = this.#sub(table);
    let raw: string | undefined;
    try {
      raw = await sub.get(id);
    } catch (cause) {
      throw this.#readError(table, cause);
    }
    return raw === undefined ? undefined : this.#decode<S[T]>(table, id, raw);
  }

  async list<T extends keyof S & string>(table: T): Promise<S[T][]> {
    return this.scan(table);
  }

  async scan<T extends keyof S & string>(table: T, o: ScanOptions = {}): Promise<S[T][]> {
    const out: S[T][] = [];
    const range = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as ScanOptions;
    const sub = this.#sub(table);
    try {
      for await (const [k, v] of sub.iterator(range)) out.push(this.#decode<S[T]>(table, k, v));
    } catch (err) {
      throw err instanceof StoreError ? err : this.#readError(table, err);
    }
    return out;
  }

  /**
   * Apply all writes atomically. By default they are fsynced before this resolves; with
   * `{ sync: false }` they are written (and survive a process crash) but an OS crash or
   * power loss may lose them.
   *
   * Group commit: while one write is in flight, the batches that arrive are queued and then
   * written together as one LevelDB batch (fsynced if any of them asked for it). Each caller's
   * batch stays atomic (it is part of one atomic write), batches are applied in call order,
   * and concurrent writers share one fsync instead of waiting for one each.
   * @throws StoreError NO_TABLE, NOT_AUDITED (audit events need an audited repository),
   * WRITE_FAILED (this write failed, or an earlier one did), CLOSED.
   */
  batch(ops: readonly Op<S>[], options: BatchOptions = {}): Promise<void> {
    if (options.audit?.length) {
      return Promise.reject(new StoreError("NOT_AUDITED", "this batch carries audit events; write it through the audit log"));
    }
    const encoded: Encoded[] = [];
    try {
      for (const op of ops) {
        const sublevel = this.#sub(op.table);
        encoded.push(
          op.type === "put"
            ? { put: true, table: op.table, sublevel, key: op.value.id, value: seal(op.table, op.value.id, JSON.stringify(op.value)) }
            : { put: false, table: op.table, sublevel, key: op.key },
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (options.expect?.length) {
      try {
        for (const e of options.expect) this.#sub(e.table);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.#enqueue(encoded, options.sync ?? true, options.expect);
  }

  #enqueue(encoded: Encoded[], sync: boolean, expect: readonly Expectation[] = []): Promise<void> {
    if (this.#failure) return Promise.reject(this.#refusal());
    return this.#group.add(encoded, sync, expect);
  }

  /**
   * Check each member's expectations, in call order, against what the store holds with the
   * writes of the members taken before it in this group laid over it (this process holds the
   * store's lock, so nothing else writes it); write the members that hold as one batch.
   */
  async #commitGroup(members: readonly Member<Encoded, Expectation>[], sync: boolean): Promise<(Error | undefined)[]> {
    if (!members.some((m) => m.expect.length)) {
      await this.#write(
        members.flatMap((m) => m.ops),
        sync,
      );
      return [];
    }
    const overlay = new Map<string, string | undefined>();
    const refused: (Error | undefined)[] = [];
    const ops: Encoded[] = [];
    for (const m of members) {
      const conflicts: Conflict[] = [];
      let failed: Error | undefined;
      for (const e of m.expect) {
        const k = `${e.table}\u0000${e.id}`;
        let now: string | undefined;
        try {
          if (overlay.has(k)) now = overlay.get(k);
          else {
            const cur = await this.get(e.table as keyof S & string, e.id);
            now = cur === undefined ? undefined : JSON.stringify(cur);
          }
        } catch (err) {
          failed = err as Error;
          break;
        }
        if (now !== expectedText(e)) conflicts.push({ table: e.table, id: e.id });
      }
      if (!failed && conflicts.length) failed = conflictError(conflicts);
      refused.push(failed);
      if (failed) continue;
      for (const op of m.ops) {
        ops.push(op);
        if (op.sublevel) overlay.set(`${op.table}\u0000${op.key}`, op.put ? unseal(op.table, op.key, op.value as string) : undefined);
      }
    }
    await this.#write(ops, sync);
    return refused;
  }

  #refusal(): StoreError {
    return new StoreError("WRITE_FAILED", `the store cannot be written: an earlier write failed (${this.#failure?.message ?? ""})`, { cause: this.#failure });
  }

  #fail(err: StoreError): void {
    if (this.#failure) return;
    this.#failure = err;
    for (const fn of this.#failureListeners) fn(err);
  }

  /** Write one group (GroupCommit: every caller's batch that arrived while the last was in flight). */
  async #write(ops: readonly Encoded[], sync: boolean): Promise<void> {
    if (this.#failure) throw this.#refusal();
    const seq = sync ? this.#seq + 1 : this.#seq;
    const timed = this.#commitListeners.length > 0;
    let took = 0;
    try {
      if (this.#fault && existsSync(this.#fault)) throw new Error(`IO error: a failure injected through ${FAULT_FILE_ENV}: No space left on device`);
      const b = this.#db.batch(); // throws at once when the store is closed
      // A later write of the same key in this group wins anyway: skip the earlier ones (the
      // audit head is rewritten by every audited batch).
      const last = new Map<string, number>();
      ops.forEach((op, i) => last.set(`${op.table}\u0000${op.key}`, i));
      // level's typings cannot express a sublevel chosen at run time; batch() checked the table.
      for (const [i, op] of ops.entries()) {
        if (last.get(`${op.table}\u0000${op.key}`) !== i) continue;
        const where = op.sublevel ? { sublevel: op.sublevel as never } : {};
        if (op.put) b.put(op.key, op.value as string, where);
        else b.del(op.key, where);
      }
      // Only durable commits are counted: the witness must never run ahead of the disk.
      if (sync) b.put(SEQ_KEY, seal(META, SEQ_KEY, String(seq)));
      if (timed) took = performance.now();
      await b.write({ sync });
      if (timed) took = performance.now() - took;
    } catch (cause) {
      if (this.#db.status !== "open") throw new StoreError("CLOSED", "the store is closed", { cause });
      const err = new StoreError("WRITE_FAILED", `the store cannot be written: ${messageChain(cause)}`, { cause });
      this.#fail(err);
      throw err;
    }
    if (timed) this.#committed(took / 1000, sync);
    if (sync) {
      this.#seq = seq;
      try {
        this.#writeWitness(seq); // after the fsync, without one of its own: it may lag, never lead
      } catch (cause) {
        this.#fail(new StoreError("WRITE_FAILED", `the store cannot be written: its witness file failed: ${messageChain(cause)}`, { cause }));
      }
    }
  }

  #writeWitness(seq: number): void {
    if (this.#witnessFd === undefined) {
      resetWitness(this.#dir, seq);
      this.#witnessFd = openSync(join(this.#dir, WITNESS_FILE), "r+");
    } else {
      writeSync(this.#witnessFd, witnessText(seq), 0, "latin1");
    }
  }

  // -------------------------------------------------------------------------------------------
  // Maintenance (tether store check / repair, with the daemon stopped)

  /** Read every record and check its checksum; returns the count and what is damaged. */
  async verifyAll(): Promise<{ records: number; problems: StoreProblem[] }> {
    const problems: StoreProblem[] = [];
    let records = 0;
    try {
      for await (const [raw, value] of this.#db.iterator()) {
        if (raw.startsWith("meta:")) continue;
        records++;
        const t = tableOf(raw);
        if (!t) {
          problems.push({ kind: ProblemKind.BadRecord, raw, message: `a key that names no table: ${JSON.stringify(raw)}` });
        } else if (this.#schema !== 1 && unseal(t.table, t.id, value) === undefined) {
          problems.push({ kind: ProblemKind.BadRecord, raw, table: t.table, key: t.id, message: `record ${t.table}/${JSON.stringify(t.id).slice(1, -1)} fails its checksum` });
        }
      }
    } catch (cause) {
      problems.push({ kind: ProblemKind.Unopenable, message: `LevelDB cannot read the whole store: ${messageChain(cause)}` });
    }
    return { records, problems };
  }

  /** Delete records by their whole LevelDB key (`!table!id`, or a key that names no table), durably. */
  dropRaw(keys: readonly string[]): Promise<void> {
    return this.#enqueue(
      keys.map((key) => ({ put: false, table: "", key })),
      true,
    );
  }

  /**
   * Accept the store as it is: write the schema record and a new witness at the current write
   * sequence (both durably), and clear the damage record. Only for a repair.
   */
  async accept(): Promise<void> {
    if (this.#schema !== SCHEMA_VERSION) throw new StoreError("UNSUPPORTED", `a store of schema ${this.#schema} is migrated by the daemon's next start, not repaired`);
    await this.#db.put(SCHEMA_KEY, String(SCHEMA_VERSION), { sync: true });
    await this.#enqueue([], true); // rewrites the write-sequence record
    if (this.#witnessFd !== undefined) closeSync(this.#witnessFd);
    resetWitness(this.#dir, this.#seq);
    this.#witnessFd = openSync(join(this.#dir, WITNESS_FILE), "r+");
    clearDamage(this.#dir);
  }

  /** Close after the queued writes are done. */
  async close(): Promise<void> {
    await this.#group.idle();
    if (this.#witnessFd !== undefined) closeSync(this.#witnessFd);
    this.#witnessFd = undefined;
    await this.#db.close();
  }
}

/**
 * Schema 1 to 2: every record gets its checksum, in unsynced batches and a last synced one that
 * sets the schema. A crash part way leaves schema 1 and some records converted: the next open
 * converts the rest (a converted value never starts with "{").
 */
async function migrate(db: Level<string, string>, dir: string): Promise<void> {
  resetWitness(dir, 0);
  let ops: { type: "put"; key: string; value: string }[] = [];
  for await (const [raw, value] of db.iterator()) {
    const t = tableOf(raw);
    if (!t || !value.startsWith("{")) continue;
    ops.push({ type: "put", key: raw, value: seal(t.table, t.id, value) });
    if (ops.length >= MIGRATE_BATCH) {
      await db.batch(ops, { sync: false });
      ops = [];
    }
  }
  await db.batch([...ops, { type: "put", key: SEQ_KEY, value: seal(META, SEQ_KEY, "0") }, { type: "put", key: SCHEMA_KEY, value: String(SCHEMA_VERSION) }], { sync: true });
}
