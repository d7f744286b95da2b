/**
 * The change feed: how several processes on one database keep what they hold in memory in step
 * with what the others commit (docs/scaling.md, "What comes next").
 *
 * Writing: a store opened with `feed` records, in each transaction, one row per written key in
 * `tether_changes` (its origin, table, id, whether it was deleted), under a transaction
 * advisory lock taken just before that insert and held to the commit, so that the rows' `seq`
 * order is the commit order (a sequence alone is not: two transactions may commit in the other
 * order than they drew their numbers). Then `NOTIFY tether_changes`: a doorbell, carrying
 * nothing (the rows are the truth).
 *
 * Following: `follow()` LISTENs on a connection of its own and, on each notification and every
 * `pollMs` anyway (a notification lost with a dropped connection delays a change, never loses
 * it), reads the rows after the last one it delivered, with each record's value as it is now
 * (so a cache applying them in order ends where the database is), skipping the follower's own
 * origin. `lagMs()` says how long ago it last read the feed to its end: a caller that must not
 * act on stale memory refuses while that exceeds its bound.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Pool, PoolClient } from "pg";
import { fromSqlId } from "./ids.js";

/** Advisory lock key that orders the feed: "tether" and 3 as 64 bits. */
const FEED_LOCK = "8387237872774807555";
export const FEED_CHANNEL = "tether_changes";
export const DEFAULT_FEED_POLL_MS = 1_000;
/** Rows read at once. */
const PAGE = 1_000;

/** A change another process committed: the record's value now (undefined: deleted). */
export type Change = { seq: number; table: string; id: string; value: unknown };

/** A random origin id for one store instance (its own rows are not delivered back to it). */
export function newOrigin(): string {
  return randomBytes(8).toString("hex");
}

/** In the writing transaction, just before COMMIT: the rows for these keys, in commit order. */
export async function recordChanges(client: PoolClient, origin: string, keys: readonly { table: string; id: string; put: boolean }[]): Promise<void> {
  if (!keys.length) return;
  await client.query("SELECT pg_advisory_xact_lock($1)", [FEED_LOCK]);
  await client.query("INSERT INTO tether_changes (origin, tbl, id, deleted) SELECT $1, t, i, d FROM unnest($2::text[], $3::text[], $4::boolean[]) AS u(t, i, d)", [
    origin,
    keys.map((k) => k.table),
    keys.map((k) => k.id),
    keys.map((k) => !k.put),
  ]);
  await client.query(`NOTIFY ${FEED_CHANNEL}`);
}

/** The feed's end now (followers start from there: what is before it, they load). */
export async function feedEnd(pool: Pool): Promise<number> {
  const r = await pool.query<{ seq: string | null }>("SELECT max(seq) AS seq FROM tether_changes");
  return Number(r.rows[0]?.seq ?? 0);
}

/** Delete feed rows older than `keepMs` (every follower has read them, or is stale anyway). */
export async function pruneFeed(pool: Pool, keepMs: number): Promise<number> {
  const r = await pool.query("DELETE FROM tether_changes WHERE at < now() - ($1::bigint * interval '1 millisecond')", [keepMs]);
  return r.rowCount ?? 0;
}

export type Follower = {
  /** ms since the feed was last read to its end (Infinity before the first read) */
  lagMs(): number;
  /** the last seq delivered */
  readonly position: number;
  stop(): Promise<void>;
};

/**
 * Deliver the changes after `from` that other origins commit, in commit order, a page at a
 * time; `deliver` is awaited before the next page. Errors reading the feed are retried at the
 * next poll (the lag grows meanwhile) and told to `onError`.
 */
export function follow(
  url: string,
  pool: Pool,
  o: { origin: string; from: number; deliver: (changes: Change[]) => void | Promise<void>; pollMs?: number; onError?: (err: Error) => void; now?: () => number },
): Follower {
  const now = o.now ?? Date.now;
  let position = o.from;
  let caughtUpAt = -Infinity;
  let stopped = false;
  let reading: Promise<void> | undefined;
  let again = false;
  let listener: pg.Client | undefined;

  const readToEnd = async () => {
    for (;;) {
      const started = now();
      // The end first: every row up to it has committed (the feed lock orders commits by seq),
      // so reading up to it misses nothing that commits meanwhile.
      const end = await feedEnd(pool);
      const rows = (
        await pool.query<{ seq: string; tbl: string; id: string; v: string | null; deleted: boolean }>(
          `SELECT c.seq, c.tbl, c.id, c.deleted, r.value::text AS v
             FROM tether_changes c LEFT JOIN tether_records r ON r.tbl = c.tbl AND r.id = c.id
            WHERE c.seq > $1 AND c.seq <= $2 AND c.origin <> $3 ORDER BY c.seq LIMIT ${PAGE}`,
          [position, end, o.origin],
        )
      ).rows;
      if (rows.length) {
        await o.deliver(rows.map((r) => ({ seq: Number(r.seq), table: r.tbl, id: fromSqlId(r.id), value: r.deleted || r.v === null ? undefined : (JSON.parse(r.v) as unknown) })));
      }
      if (rows.length < PAGE) {
        // Rows of our own origin, and numbers of transactions that rolled back, are passed over.
        position = Math.max(position, end);
        caughtUpAt = started;
        return;
      }
      position = Number((rows[rows.length - 1] as { seq: string }).seq);
    }
  };
  const kick = () => {
    if (stopped) return;
    if (reading) {
      again = true;
      return;
    }
    reading = readToEnd()
      .catch((err: unknown) => o.onError?.(err as Error))
      .finally(() => {
        reading = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  };
  const listen = async () => {
    if (stopped) return;
    const c = new pg.Client({ connectionString: url, application_name: "tether-feed", keepAlive: true });
    c.on("error", () => {});
    c.on("notification", kick);
    c.on("end", () => {
      if (listener === c) listener = undefined; // the poll goes on; the next tick listens again
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${FEED_CHANNEL}`);
      if (stopped) await c.end();
      else listener = c;
    } catch (err) {
      await c.end().catch(() => {});
      o.onError?.(err as Error);
    }
  };
  const timer = setInterval(() => {
    if (!listener) void listen();
    kick();
  }, o.pollMs ?? DEFAULT_FEED_POLL_MS);
  timer.unref();
  void listen().then(kick);
  return {
    lagMs: () => now() - caughtUpAt,
    get position() {
      return position;
    },
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await reading;
      await listener?.end().catch(() => {});
      listener = undefined;
    },
  };
}
