/**
 * The storage contract (Repository, @tether/base) on PostgreSQL through `pg`, the only module
 * in tether that imports it. Like the LevelDB store it knows nothing of what records mean.
 *
 * One table holds every record, `tether_records (tbl, id, value)`, rather than one SQL table
 * per schema table: the contract names its tables at run time (the LevelDB store's sublevels),
 * so a caller adding a table needs no migration, a batch across tables is one statement per
 * kind of write, and `(tbl, id)` is the primary key whose B-tree serves every get and range
 * scan. `id` is `COLLATE "C"`, so ids sort by their UTF-8 bytes, as LevelDB's keys do. `value`
 * is `json`, not `jsonb`: json keeps the text exactly as JSON.stringify wrote it (key order,
 * `\u0000` in strings), so a record reads back as it does from LevelDB. A table that needs
 * its own indexes later gets its own SQL table by a migration.
 *
 * Migrations are numbered; `tether_schema_migrations` records those applied. The store runs
 * the missing ones at open, in one transaction under a transaction-scoped advisory lock (so
 * replicas opening together migrate once), and refuses a database whose schema is newer than
 * it knows.
 *
 * Batches: one transaction each, applied in call order. While one is in flight the batches
 * that arrive are queued and committed together in the next transaction (group commit, as in
 * the LevelDB store); each caller's batch stays atomic because it is part of one atomic
 * transaction. `sync: false` is `SET LOCAL synchronous_commit = off`: PostgreSQL may lose it
 * in an OS crash, as LevelDB may lose an unsynced write.
 */
import pg from "pg";
import type { Pool, PoolClient } from "pg";
import { GroupCommit, expectedText } from "@tether/base";
import type { BatchOptions, Conflict, Expectation, Member, Op, Repository, ScanOptions, Schema } from "@tether/base";
import { PgStoreError } from "./errors.js";
import { feedEnd, follow, newOrigin, pruneFeed, recordChanges } from "./feed.js";
import { fromSqlId, sqlId } from "./ids.js";
import type { Change, Follower } from "./feed.js";

/** The migrations, in order: migration N (1-based) brings the schema to version N. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tether_records (
     tbl text NOT NULL,
     id text COLLATE "C" NOT NULL,
     value json NOT NULL,
     PRIMARY KEY (tbl, id)
   )`,
  // 2: the writer epoch, which fences an exclusive store's writes (see takeWriterLock).
  `CREATE TABLE tether_writer (id integer PRIMARY KEY CHECK (id = 1), epoch bigint NOT NULL);
   INSERT INTO tether_writer (id, epoch) VALUES (1, 0)`,
  // 3: the change feed (feed.ts), for processes that keep memory in step with each other.
  `CREATE TABLE tether_changes (
     seq bigserial PRIMARY KEY,
     origin text NOT NULL,
     tbl text NOT NULL,
     id text COLLATE "C" NOT NULL,
     deleted boolean NOT NULL,
     at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX tether_changes_at ON tether_changes (at)`,
];
/** The schema version this code knows (and migrates a database to). */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;
/** pg_advisory_xact_lock key for migrations: 0x7465746865720001, "tether" and 1 as 64 bits. */
const MIGRATION_LOCK = "8387237872774807553";
/** pg_advisory_lock key of an exclusive store: "tether" and 2 as 64 bits. */
const WRITER_LOCK = "8387237872774807554";

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
export const DEFAULT_POOL_SIZE = 10;

export type PgStoreOptions = {
  /** how long to wait for a connection before UNAVAILABLE (default 5 s) */
  connectTimeoutMs?: number;
  /** how long one query may take before UNAVAILABLE (default 30 s) */
  queryTimeoutMs?: number;
  /** connections in the pool (default 10) */
  poolSize?: number;
  /**
   * Hold a session advisory lock on the database for as long as the store is open, as the
   * LevelDB store's LOCK file does for its directory: a second store opened with `exclusive`
   * on the same database is refused (LOCKED), or, with "wait", waits until the holder is gone
   * (a standby). Taking the lock raises the writer epoch; every batch of the store checks,
   * inside its transaction, that the epoch is still its own, so a holder that lost its lock
   * (its connection dropped, another took over) can no longer write (fencing). Losing the
   * lock's connection is reported to onFailure listeners.
   */
  exclusive?: boolean | "wait";
  /** with exclusive "wait": called once if the lock is held by another, before waiting */
  onWaiting?: () => void;
  /**
   * Record every written key in the change feed (feed.ts), for other processes' follow(). Off by
   * default: it serialises the commits of every store that has it on (the feed's order).
   */
  feed?: boolean;
  /**
   * Which schemas open() brings up to date: "always" (the default) any older one; "fresh" only
   * a database without tether's tables, refusing an older schema (OUTDATED) so that an upgrade
   * is a step the operator takes (`tether store upgrade`) rather than a side effect of a start.
   */
  migrate?: "always" | "fresh";
};

/** What open() found and left: the schema version before and after its migrations. */
export type SchemaChange = { from: number; to: number };

type Encoded = { put: boolean; table: string; id: string; value?: string };

/** Error codes, from pg (SQLSTATE) and from Node's sockets, that mean "cannot reach the database". */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOENT", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300"]);
const UNAVAILABLE_TEXT = /timeout exceeded when trying to connect|Connection terminated|connection error|Query read timeout|not queryable/i;

function unreachable(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (typeof e.code === "string" && (SOCKET_CODES.has(e.code) || e.code.startsWith("08") || UNAVAILABLE_STATES.has(e.code))) return true;
    if (typeof e.message === "string" && UNAVAILABLE_TEXT.test(e.message)) return true;
  }
  return false;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function unavailable(cause: unknown, what: string): PgStoreError {
  return new PgStoreError("UNAVAILABLE", `PostgreSQL is unavailable: ${what}: ${messageOf(cause)}`, { cause });
}

/** A record's id as the database holds it (sqlId), checked to be a string. */
function checkId(id: unknown, label: string): string {
  if (typeof id !== "string") throw new PgStoreError("BAD_ID", `${label} must be a string, got ${typeof id}`);
  return sqlId(id);
}

export class PgStore<S extends Schema> implements Repository<S> {
  readonly #pool: Pool;
  readonly #tables: ReadonlySet<string>;
  readonly #group = new GroupCommit<Encoded, Expectation>((members, sync) => this.#commitGroup(members, sync));
  #closed = false;
  readonly #failureListeners: ((err: PgStoreError) => void)[] = [];
  readonly #commitListeners: ((seconds: number, durable: boolean) => void)[] = [];
  /** the schema version open() found, and the one it left (PG_SCHEMA_VERSION) */
  schema: SchemaChange = { from: PG_SCHEMA_VERSION, to: PG_SCHEMA_VERSION };
  /** the connection that holds the exclusive lock (PgStoreOptions.exclusive) */
  #lockClient: pg.Client | undefined;
  /** the writer epoch this store took with the lock; its batches commit only while it is current */
  #epoch: string | undefined;
  #url = "";
  /** this store's origin in the change feed (PgStoreOptions.feed), or undefined */
  #origin: string | undefined;
  readonly #followers = new Set<Follower>();

  private constructor(pool: Pool, tables: readonly string[]) {
    this.#pool = pool;
    this.#tables = new Set(tables);
  }

  /**
   * Told of every batch that failed (UNAVAILABLE, WRITE_FAILED) and of a lost exclusive lock.
   * The store itself goes on (a later batch may succeed); a caller whose memory ran ahead of
   * the batch (the daemon's managers) fails closed on it, as it does on the LevelDB store.
   */
  onFailure(fn: (err: PgStoreError) => void): void {
    this.#failureListeners.push(fn);
  }

  /** Told of every committed transaction: how long it took, and whether it waited for the WAL flush. */
  onCommit(fn: (seconds: number, durable: boolean) => void): void {
    this.#commitListeners.push(fn);
  }

  /** With the writer lock (PgStoreOptions.exclusive), no other process commits a write: they are fenced. */
  get singleWriter(): boolean {
    return this.#epoch !== undefined;
  }

  /** The writer epoch this store took with the writer lock (PgStoreOptions.exclusive), or 0. */
  get writerEpoch(): number {
    return this.#epoch === undefined ? 0 : Number(this.#epoch);
  }

  /** Reads that found a damaged record: always 0 here (PostgreSQL checks its own pages; a bad JSON value is CORRUPT to its caller). */
  get corruptReads(): number {
    return 0;
  }

  #fail(err: PgStoreError): void {
    for (const fn of this.#failureListeners) fn(err);
  }

  /**
   * Whether the database answers a trivial query within `timeoutMs` (the daemon's health).
   * Never throws.
   */
  async ping(timeoutMs = 2_000): Promise<boolean> {
    if (this.#closed) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([
        this.#pool.query("SELECT 1").then(
          () => true,
          () => false,
        ),
        late,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Connect to the database at `url` (a libpq URL; `?host=/dir` for a Unix socket) and bring
   * its schema up to date.
   * @throws PgStoreError UNAVAILABLE when it cannot be reached; UNSUPPORTED when its schema is
   * newer than this version knows; OPEN_FAILED otherwise.
   */
  static async open<S extends Schema>(url: string, tables: readonly (keyof S & string)[], options: PgStoreOptions = {}): Promise<PgStore<S>> {
    const pool = new pg.Pool({
      connectionString: url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      query_timeout: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      application_name: "tether",
      keepAlive: true,
    });
    // An idle connection that drops (the server restarted) is discarded by the pool; without
    // a listener its error would end the process. The next query opens a new one.
    pool.on("error", () => {});
    let lock: { client: pg.Client; epoch: string } | undefined;
    let schema: SchemaChange;
    try {
      schema = await migrate(pool, options.migrate ?? "always");
      if (options.exclusive)
        lock = await takeWriterLock(url, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, options.exclusive === "wait" ? (options.onWaiting ?? (() => {})) : undefined);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    const store = new PgStore<S>(pool, tables);
    store.schema = schema;
    store.#url = url;
    if (options.feed) store.#origin = newOrigin();
    if (lock) {
      store.#lockClient = lock.client;
      store.#epoch = lock.epoch;
      const lost = (cause?: unknown) => {
        if (store.#closed || store.#lockClient !== lock.client) return;
        store.#lockClient = undefined;
        store.#fail(new PgStoreError("UNAVAILABLE", "PostgreSQL is unavailable: the connection that holds this daemon's lock on the database was lost", { cause }));
      };
      lock.client.on("error", lost);
      lock.client.on("end", () => lost());
    }
    return store;
  }

  #table(table: string): void {
    if (this.#closed) throw new PgStoreError("CLOSED", "the store is closed");
    if (!this.#tables.has(table)) throw new PgStoreError("NO_TABLE", `no table ${table}`);
  }

  #decode<T>(table: string, id: string, text: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new PgStoreError("CORRUPT", `record ${table}/${JSON.stringify(id).slice(1, -1)} is not valid JSON`, { cause });
    }
  }

  async #read(sql: string, params: unknown[]): Promise<{ id: string; v: string }[]> {
    try {
      return (await this.#pool.query<{ id: string; v: string }>(sql, params)).rows;
    } catch (cause) {
      if (this.#closed) throw new PgStoreError("CLOSED", "the store is closed", { cause });
      if (unreachable(cause)) throw unavailable(cause, "a read failed");
      throw new PgStoreError("READ_FAILED", `a read failed: ${messageOf(cause)}`, { cause });
    }
  }

  async get<T extends keyof S & string>(table: T, id: string): Promise<S[T] | undefined> {
    this.#table(table);
    const rows = await this.#read("SELECT id, value::text AS v FROM tether_records WHERE tbl = $1 AND id = $2", [table, sqlId(id)]);
    return rows[0] ? this.#decode<S[T]>(table, id, rows[0].v) : undefined;
  }

  async list<T extends keyof S & string>(table: T): Promise<S[T][]> {
    return this.scan(table);
  }

  async scan<T extends keyof S & string>(table: T, o: ScanOptions = {}): Promise<S[T][]> {
    this.#table(table);
    const params: unknown[] = [table];
    const where = ["tbl = $1"];
    for (const [key, op] of [
      ["gte", ">="],
      ["gt", ">"],
      ["lt", "<"],
      ["lte", "<="],
    ] as const) {
      const bound = o[key];
      if (bound === undefined) continue;
      params.push(sqlId(bound));
      where.push(`id ${op} $${params.length}`);
    }
    let limit = "";
    if (o.limit !== undefined && o.limit >= 0 && Number.isFinite(o.limit)) {
      params.push(Math.floor(o.limit));
      limit = ` LIMIT $${params.length}`;
    }
    const rows = await this.#read(`SELECT id, value::text AS v FROM tether_records WHERE ${where.join(" AND ")} ORDER BY id ${o.reverse ? "DESC" : "ASC"}${limit}`, params);
    return rows.map((r) => this.#decode<S[T]>(table, fromSqlId(r.id), r.v));
  }

  /**
   * Apply all writes atomically, in one transaction, committed before this resolves (with
   * `sync: false`, without waiting for PostgreSQL's WAL flush).
   * @throws PgStoreError NO_TABLE, NOT_AUDITED (audit events need an audited repository),
   * UNAVAILABLE, WRITE_FAILED (rolled back: nothing of it is written), CLOSED.
   */
  batch(ops: readonly Op<S>[], options: BatchOptions = {}): Promise<void> {
    if (options.audit?.length) {
      return Promise.reject(new PgStoreError("NOT_AUDITED", "this batch carries audit events; write it through the audit log"));
    }
    const encoded: Encoded[] = [];
    try {
      for (const op of ops) {
        this.#table(op.table);
        encoded.push(
          op.type === "put"
            ? { put: true, table: op.table, id: checkId(op.value.id, "a record's id"), value: JSON.stringify(op.value) }
            : { put: false, table: op.table, id: checkId(op.key, "a deleted key") },
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const expect: Expectation[] = [];
    try {
      for (const e of options.expect ?? []) {
        this.#table(e.table);
        expect.push({ ...e, id: checkId(e.id, "an expected record's id") });
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#group.add(encoded, options.sync ?? true, expect);
  }

  /** One group's transaction, timed for the commit listeners; a failure is told to the failure listeners. */
  async #commitGroup(members: readonly Member<Encoded, Expectation>[], sync: boolean): Promise<(Error | undefined)[]> {
    const started = performance.now();
    let refused: (Error | undefined)[];
    try {
      refused = await this.#write(members, sync);
    } catch (err) {
      if (err instanceof PgStoreError && err.code !== "CLOSED") this.#fail(err);
      throw err;
    }
    const seconds = (performance.now() - started) / 1000;
    for (const fn of this.#commitListeners) fn(seconds, sync);
    return refused;
  }

  /**
   * One transaction for a group: the members in call order, each member's expectations checked
   * (under transaction advisory locks on their keys, so that two processes checking the same
   * record, present or absent, take turns) after the writes of the members before it, and its
   * writes taken only if they hold. Returns each refused member's CONFLICT.
   */
  async #write(members: readonly Member<Encoded, Expectation>[], sync: boolean): Promise<(Error | undefined)[]> {
    if (members.every((m) => m.ops.length === 0 && m.expect.length === 0)) return [];
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (cause) {
      if (this.#closed) throw new PgStoreError("CLOSED", "the store is closed", { cause });
      throw unavailable(cause, "cannot connect; the batch was not written");
    }
    const refused: (Error | undefined)[] = [];
    let committing = false;
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      if (!sync) await client.query("SET LOCAL synchronous_commit = off");
      if (this.#epoch !== undefined) {
        // Fencing: FOR SHARE holds off a takeover's epoch UPDATE until this commits, and a
        // takeover that came first has changed the epoch, so this store's writes stop.
        const now = (await client.query<{ epoch: string }>("SELECT epoch FROM tether_writer WHERE id = 1 FOR SHARE")).rows[0]?.epoch;
        if (now !== this.#epoch) throw new Fenced(now, this.#epoch);
      }
      let pending: Encoded[] = [];
      const written: Encoded[] = [];
      for (const m of members) {
        if (m.expect.length) {
          await applyWrites(client, pending);
          written.push(...pending);
          pending = [];
          const conflicts = await checkExpectations(client, m.expect);
          if (conflicts.length) {
            refused.push(conflictError(conflicts));
            continue;
          }
        }
        refused.push(undefined);
        for (const op of m.ops) pending.push(op);
      }
      await applyWrites(client, pending);
      written.push(...pending);
      if (this.#origin !== undefined) await recordChanges(client, this.#origin, lastWrites(written));
      committing = true;
      await client.query("COMMIT");
    } catch (cause) {
      if (cause instanceof Fenced) {
        await client.query("ROLLBACK").catch((e: Error) => (broken = e));
        throw new PgStoreError(
          "LOCKED",
          `another process has taken over the database (writer epoch ${cause.now ?? "none"}, this store's ${cause.ours}); the batch was not written`,
        );
      }
      if (unreachable(cause)) {
        broken = cause as Error;
        throw unavailable(cause, committing ? "the connection failed during COMMIT, so whether the batch was written is unknown" : "the batch was not written");
      }
      await client.query("ROLLBACK").catch((e: Error) => (broken = e));
      throw new PgStoreError("WRITE_FAILED", `the batch was rolled back: ${messageOf(cause)}`, { cause });
    } finally {
      client.release(broken);
    }
    return refused;
  }

  /**
   * Follow the change feed from `from` (feedEnd() when the caller loaded its memory): every
   * change other stores with `feed` commit, in commit order (feed.ts, follow). Stopped by close().
   */
  follow(from: number, deliver: (changes: Change[]) => void | Promise<void>, o: { pollMs?: number; onError?: (err: Error) => void } = {}): Follower {
    if (this.#closed) throw new PgStoreError("CLOSED", "the store is closed");
    const f = follow(this.#url, this.#pool, { origin: this.#origin ?? newOrigin(), from, deliver, ...o });
    this.#followers.add(f);
    return f;
  }

  /** The change feed's end now: load memory after reading it, then follow from it. */
  feedEnd(): Promise<number> {
    return feedEnd(this.#pool);
  }

  /** Delete change-feed rows older than `keepMs`; returns how many. */
  pruneFeed(keepMs: number): Promise<number> {
    return pruneFeed(this.#pool, keepMs);
  }

  /** Close after the queued writes are done. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#group.idle();
    for (const f of this.#followers) await f.stop();
    this.#followers.clear();
    this.#closed = true;
    const lock = this.#lockClient;
    this.#lockClient = undefined;
    await lock?.end().catch(() => {});
    await this.#pool.end();
  }
}

/** A batch refused because the writer epoch is no longer this store's. */
class Fenced extends Error {
  constructor(
    readonly now: string | undefined,
    readonly ours: string,
  ) {
    super("fenced");
  }
}

/** The keys written, each once (its last write), in the order of their last write. */
function lastWrites(ops: readonly Encoded[]): { table: string; id: string; put: boolean }[] {
  const last = new Map<string, Encoded>();
  for (const op of ops) {
    const k = `${op.table}\u0000${op.id}`;
    last.delete(k);
    last.set(k, op);
  }
  return [...last.values()].map((o) => ({ table: o.table, id: o.id, put: o.put }));
}

/** Apply writes in one statement per kind: the last write of a key wins, so puts and deletes then name different keys. */
async function applyWrites(client: PoolClient, ops: readonly Encoded[]): Promise<void> {
  if (!ops.length) return;
  const last = new Map<string, Encoded>();
  for (const op of ops) last.set(`${op.table}\u0000${op.id}`, op);
  const puts = [...last.values()].filter((o) => o.put);
  const dels = [...last.values()].filter((o) => !o.put);
  if (dels.length) {
    await client.query("DELETE FROM tether_records AS r USING unnest($1::text[], $2::text[]) AS d(tbl, id) WHERE r.tbl = d.tbl AND r.id = d.id", [
      dels.map((o) => o.table),
      dels.map((o) => o.id),
    ]);
  }
  if (puts.length) {
    await client.query(
      "INSERT INTO tether_records (tbl, id, value) SELECT * FROM unnest($1::text[], $2::text[], $3::json[]) ON CONFLICT (tbl, id) DO UPDATE SET value = EXCLUDED.value",
      [puts.map((o) => o.table), puts.map((o) => o.id), puts.map((o) => o.value)],
    );
  }
}

/**
 * The expectations that do not hold, read in the transaction after locking each key (a
 * transaction advisory lock on a hash of it, taken in key order so that two transactions never
 * wait for each other in a cycle): the lock makes a concurrent check of the same record, even an
 * absent one, wait for this transaction's end, and the read after it sees what that committed.
 */
async function checkExpectations(client: PoolClient, expect: readonly Expectation[]): Promise<Conflict[]> {
  // "LENGTH:TABLE" and the (escaped) id: one text per record, unambiguous.
  const keys = [...new Set(expect.map((e) => `${e.table.length}:${e.table}${e.id}`))].sort();
  for (const k of keys) await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7465746865))", [k]);
  const rows = (
    await client.query<{ tbl: string; id: string; v: string }>(
      "SELECT r.tbl, r.id, r.value::text AS v FROM tether_records r JOIN unnest($1::text[], $2::text[]) AS e(tbl, id) ON r.tbl = e.tbl AND r.id = e.id",
      [expect.map((e) => e.table), expect.map((e) => e.id)],
    )
  ).rows;
  const now = new Map(rows.map((r) => [`${r.tbl}\u0000${r.id}`, r.v]));
  return expect.filter((e) => now.get(`${e.table}\u0000${e.id}`) !== expectedText(e)).map((e) => ({ table: e.table, id: fromSqlId(e.id) }));
}

/** A batch whose expectations did not hold (BatchOptions.expect). */
function conflictError(conflicts: readonly Conflict[]): PgStoreError {
  const named = conflicts.map((c) => `${c.table}/${JSON.stringify(c.id).slice(1, -1)}`).join(", ");
  return new PgStoreError("CONFLICT", `the batch was not written: ${named} changed since it was read`, { conflicts });
}

/**
 * A connection of its own that holds the writer lock for the store's life, and the writer
 * epoch it raised on taking it. With `waiting`, a lock held by another is waited for (told
 * once); without, refused.
 * @throws PgStoreError LOCKED when another process holds it; UNAVAILABLE.
 */
async function takeWriterLock(url: string, connectTimeoutMs: number, waiting?: () => void): Promise<{ client: pg.Client; epoch: string }> {
  // Named in pg_stat_activity: "tether-standby" while it waits, "tether-lock" once it holds the lock.
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, application_name: "tether-standby", keepAlive: true });
  client.on("error", () => {}); // replaced by the store's listener once it holds the lock
  try {
    await client.connect();
    let got = (await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [WRITER_LOCK])).rows[0]?.ok;
    if (!got && waiting) {
      waiting();
      await client.query("SELECT pg_advisory_lock($1)", [WRITER_LOCK]); // returns when the holder's session ends
      got = true;
    }
    if (!got) throw new PgStoreError("LOCKED", "another tether daemon is using this database (it holds the database's writer lock)");
    await client.query("SET application_name = 'tether-lock'");
    // Waits for the batches of a previous holder still in flight (their FOR SHARE), then fences them off.
    const epoch = (await client.query<{ epoch: string }>("UPDATE tether_writer SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch")).rows[0]?.epoch;
    if (epoch === undefined) throw new PgStoreError("OPEN_FAILED", "the database has no writer epoch row (tether_writer): its schema is damaged");
    return { client, epoch };
  } catch (cause) {
    await client.end().catch(() => {});
    if (cause instanceof PgStoreError) throw cause;
    if (unreachable(cause)) throw unavailable(cause, "cannot take the writer lock");
    throw new PgStoreError("OPEN_FAILED", `cannot take the writer lock: ${messageOf(cause)}`, { cause });
  }
}

/** Bring the schema up to date, under the migration lock, or refuse a newer one (or, with "fresh", an older one). */
async function migrate(pool: Pool, mode: "always" | "fresh"): Promise<SchemaChange> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (cause) {
    if (unreachable(cause)) throw unavailable(cause, "cannot connect");
    throw new PgStoreError("OPEN_FAILED", `cannot open the store: ${messageOf(cause)}`, { cause });
  }
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await client.query("CREATE TABLE IF NOT EXISTS tether_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    const found = (await client.query<{ v: number | null }>("SELECT max(version) AS v FROM tether_schema_migrations")).rows[0]?.v ?? 0;
    if (found > PG_SCHEMA_VERSION) {
      throw new PgStoreError(
        "UNSUPPORTED",
        `the database's store schema is version ${found}, newer than this tether knows (version ${PG_SCHEMA_VERSION}): run a tether at least as new as the one that upgraded it`,
      );
    }
    if (mode === "fresh" && found > 0 && found < PG_SCHEMA_VERSION) {
      throw new PgStoreError(
        "OUTDATED",
        `the database's store schema is version ${found}, older than this tether's (version ${PG_SCHEMA_VERSION}): back it up, then run \`tether store upgrade\` (or start the daemon with --upgrade-store)`,
      );
    }
    for (let v = found + 1; v <= PG_SCHEMA_VERSION; v++) {
      await client.query(MIGRATIONS[v - 1] as string);
      await client.query("INSERT INTO tether_schema_migrations (version) VALUES ($1)", [v]);
    }
    await client.query("COMMIT");
    return { from: found, to: Math.max(found, PG_SCHEMA_VERSION) };
  } catch (cause) {
    if (unreachable(cause)) {
      broken = cause as Error;
      throw unavailable(cause, "the schema check failed");
    }
    await client.query("ROLLBACK").catch((e: Error) => (broken = e));
    if (cause instanceof PgStoreError) throw cause;
    throw new PgStoreError("OPEN_FAILED", `cannot migrate the store: ${messageOf(cause)}`, { cause });
  } finally {
    client.release(broken);
  }
}
