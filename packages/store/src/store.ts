/**
 * The LevelDB store (via `level`): one sublevel a table, JSON records keyed by their `id`,
 * and atomic, fsynced batches across tables. The only module in tether that imports `level`.
 * It knows nothing of what the records mean; their types come from the caller.
 */
import { Level } from "level";
import type { BatchOptions, Op, Repository, ScanOptions, Schema } from "@tether/base";
import { StoreError } from "./errors.js";

export const SCHEMA_VERSION = 1;

export type { Op, Schema } from "@tether/base";

/** One write, checked and serialised, waiting for its group. */
type Encoded = { put: boolean; table: string; sublevel: Sub; key: string; value?: string };
type Group = { ops: Encoded[]; sync: boolean; waiters: { resolve(): void; reject(e: Error): void }[] };

/** The part of a sublevel the store uses (keeps level's deep generics out of the types). */
type Sub = {
  get(key: string): Promise<string | undefined>;
  values(o?: ScanOptions): AsyncIterable<string>;
};

export class Store<S extends Schema> implements Repository<S> {
  readonly #db: Level<string, string>;
  readonly #subs: Map<string, Sub>;
  #queued: Group | undefined;
  #writing = false;
  #drained: Promise<void> = Promise.resolve();

  private constructor(db: Level<string, string>, tables: readonly string[]) {
    this.#db = db;
    this.#subs = new Map(tables.map((t) => [t, db.sublevel<string, string>(t, { valueEncoding: "utf8" }) as unknown as Sub]));
  }

  /**
   * Open (creating if needed) the store in `dir`. LevelDB's LOCK file makes this exclusive.
   * @throws StoreError LOCKED when another process has the store open; OPEN_FAILED; CORRUPT.
   */
  static async open<S extends Schema>(dir: string, tables: readonly (keyof S & string)[]): Promise<Store<S>> {
    const db = new Level<string, string>(dir, { valueEncoding: "utf8" });
    try {
      await db.open();
    } catch (cause) {
      const c = cause as { code?: string; cause?: { code?: string } };
      if (c.code === "LEVEL_LOCKED" || c.cause?.code === "LEVEL_LOCKED") {
        throw new StoreError("LOCKED", "the store is locked by another process", { cause });
      }
      throw new StoreError("OPEN_FAILED", `cannot open the store in ${dir}`, { cause });
    }
    const version = await db.get("meta:schema");
    if (version === undefined) await db.put("meta:schema", String(SCHEMA_VERSION), { sync: true });
    else if (Number(version) !== SCHEMA_VERSION) {
      await db.close();
      throw new StoreError("CORRUPT", `store schema ${version} is not supported (expected ${SCHEMA_VERSION})`);
    }
    return new Store<S>(db, tables);
  }

  #sub(table: string): Sub {
    const s = this.#subs.get(table);
    if (!s) throw new StoreError("NO_TABLE", `no table ${table}`);
    return s;
  }

  async get<T extends keyof S & string>(table: T, id: string): Promise<S[T] | undefined> {
    const raw = await this.#sub(table).get(id);
    return raw === undefined ? undefined : (JSON.parse(raw) as S[T]);
  }

  async list<T extends keyof S & string>(table: T): Promise<S[T][]> {
    return this.scan(table);
  }

  async scan<T extends keyof S & string>(table: T, o: ScanOptions = {}): Promise<S[T][]> {
    const out: S[T][] = [];
    const range = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as ScanOptions;
    for await (const v of this.#sub(table).values(range)) out.push(JSON.parse(v) as S[T]);
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
   * @throws StoreError NO_TABLE, NOT_AUDITED (audit events need an audited repository), WRITE_FAILED.
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
          op.type === "put" ? { put: true, table: op.table, sublevel, key: op.value.id, value: JSON.stringify(op.value) } : { put: false, table: op.table, sublevel, key: op.key },
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      const g = (this.#queued ??= { ops: [], sync: false, waiters: [] });
      for (const e of encoded) g.ops.push(e);
      g.sync ||= options.sync ?? true;
      g.waiters.push({ resolve, reject });
      if (!this.#writing) this.#drained = this.#drain();
    });
  }

  /** Write queued groups one after another until none is left. */
  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queued) {
      const g = this.#queued;
      this.#queued = undefined;
      try {
        const b = this.#db.batch(); // throws at once when the store is closed
        // A later write of the same key in this group wins anyway: skip the earlier ones (the
        // audit head is rewritten by every audited batch).
        const last = new Map<string, number>();
        g.ops.forEach((op, i) => last.set(`${op.table}\u0000${op.key}`, i));
        // level's typings cannot express a sublevel chosen at run time; batch() checked the table.
        for (const [i, op] of g.ops.entries()) {
          if (last.get(`${op.table}\u0000${op.key}`) !== i) continue;
          if (op.put) b.put(op.key, op.value as string, { sublevel: op.sublevel as never });
          else b.del(op.key, { sublevel: op.sublevel as never });
        }
        await b.write({ sync: g.sync });
        for (const w of g.waiters) w.resolve();
      } catch (cause) {
        const err = new StoreError("WRITE_FAILED", "store write failed", { cause });
        for (const w of g.waiters) w.reject(err);
      }
    }
    this.#writing = false;
  }

  /** Close after the queued writes are done. */
  async close(): Promise<void> {
    await this.#drained;
    await this.#db.close();
  }
}
