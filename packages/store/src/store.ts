/**
 * The LevelDB store (via `level`): one sublevel a table, JSON records keyed by their `id`,
 * and atomic, fsynced batches across tables. The only module in tether that imports `level`.
 * It knows nothing of what the records mean; their types come from the caller.
 */
import { Level } from "level";
import type { Op, Repository, Schema } from "@tether/base";
import { StoreError } from "./errors.js";

export const SCHEMA_VERSION = 1;

export type { Op, Schema } from "@tether/base";

/** The part of a sublevel the store uses (keeps level's deep generics out of the types). */
type Sub = {
  get(key: string): Promise<string | undefined>;
  values(): AsyncIterable<string>;
};

export class Store<S extends Schema> implements Repository<S> {
  readonly #db: Level<string, string>;
  readonly #subs: Map<string, Sub>;

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
    const out: S[T][] = [];
    for await (const v of this.#sub(table).values()) out.push(JSON.parse(v) as S[T]);
    return out;
  }

  /**
   * Apply all writes atomically. By default they are fsynced before this resolves; with
   * `{ sync: false }` they are written (and survive a process crash) but an OS crash or
   * power loss may lose them.
   */
  async batch(ops: readonly Op<S>[], options: { sync?: boolean } = {}): Promise<void> {
    const b = this.#db.batch();
    for (const op of ops) {
      // level's typings cannot express a sublevel chosen at run time; Op checks the shape.
      const sublevel = this.#sub(op.table) as never;
      if (op.type === "put") b.put(op.value.id, JSON.stringify(op.value), { sublevel });
      else b.del(op.key, { sublevel });
    }
    try {
      await b.write({ sync: options.sync ?? true });
    } catch (cause) {
      throw new StoreError("WRITE_FAILED", "store write failed", { cause });
    }
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
