/**
 * One conformance suite for the storage contract (Repository, @tether/base), run against both
 * backends: the LevelDB store (@tether/store, in a temp dir) and the PostgreSQL store
 * (@tether/store-pg, on a throw-away server from test/postgres.ts, a fresh database a test).
 * Then what only PostgreSQL has: the schema-version refusal, concurrent migrations, a failure
 * inside the transaction rolled back, and a stopped server giving a typed error, not a hang.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Repository } from "@tether/base";
import { Store } from "@tether/store";
import { PG_SCHEMA_VERSION, PgStore, PgStoreError } from "@tether/store-pg";
import type { Change } from "@tether/store-pg";
import { AuditEvent, isConflict } from "@tether/base";
import { AUDIT_TABLES, AuditLog } from "@tether/audit";
import type { AuditTables } from "@tether/audit";
import { tempDir } from "./helpers.ts";
import { startPostgres } from "./postgres.ts";
import type { TestPostgres } from "./postgres.ts";

type Rec = { id: string; v?: unknown };
type S = { a: Rec; b: Rec };
const TABLES = ["a", "b"] as const;
type Repo = Repository<S> & { close(): Promise<void> };
/** A fresh, empty place to keep records; open() may be called again after close() (a reopen). */
type Env = { open(): Promise<Repo> };
type Backend = { name: string; setup(): Promise<void>; fresh(): Promise<Env>; teardown(): Promise<void> };

const level = (() => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let n = 0;
  return {
    name: "LevelDB",
    async setup() {
      dir = tempDir("tether-conformance-");
    },
    async fresh() {
      const path = join((dir as { path: string }).path, `s${n++}`);
      return { open: () => Store.open<S>(path, [...TABLES]) };
    },
    async teardown() {
      dir?.remove();
    },
  } satisfies Backend;
})();

let server: TestPostgres | undefined;
let dbs = 0;
/** A new database on the server; its URL. */
async function freshDatabase(): Promise<string> {
  const s = server as TestPostgres;
  const name = `t${dbs++}`;
  const c = new pg.Client({ connectionString: s.url });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return s.url.replace("/postgres?", `/${name}?`);
}
async function sql<R extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query<R>(text, params);
  } finally {
    await c.end();
  }
}

const postgres = {
  name: "PostgreSQL",
  async setup() {
    server = await startPostgres();
  },
  async fresh() {
    const url = await freshDatabase();
    return { open: () => PgStore.open<S>(url, [...TABLES]) };
  },
  async teardown() {
    await server?.stop();
  },
} satisfies Backend;

const put = (table: keyof S, id: string, v?: unknown) => ({ table, type: "put" as const, value: v === undefined ? { id } : { id, v } });
const del = (table: keyof S, key: string) => ({ table, type: "del" as const, key });
const ids = (rs: readonly Rec[]) => rs.map((r) => r.id);
const bytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
/** ids whose UTF-8 byte order differs from JavaScript's UTF-16 order: U+FFFF sorts before U+1F600 in bytes, after it in UTF-16 */
const IDS = ["b", "a", "aa", "a\u00e9", "z", "Z", "\u4e2d", "\uffff", "\u{1f600}", "~", "0", "a b", "\u00e9"];

async function rejects(p: Promise<unknown>, code: string, text?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { code?: string };
    assert.is(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    if (text) assert.match(e.message, text);
    return e;
  }
  assert.unreachable(`expected a rejection with ${code}`);
  throw new Error("unreachable");
}

/** Rejects, with a message matching `text`. */
async function refused(p: () => Promise<unknown>, text: RegExp): Promise<void> {
  let err: Error | undefined;
  try {
    await p();
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err, "expected a rejection");
  assert.match(err.message, text);
}

for (const backend of [level, postgres] as Backend[]) {
  const t = suite(`Repository on ${backend.name}`);
  t.before(() => backend.setup());
  t.after(() => backend.teardown());

  t("put, get, overwrite and del", async () => {
    const s = await (await backend.fresh()).open();
    try {
      assert.is(await s.get("a", "x"), undefined);
      await s.batch([put("a", "x", 1)]);
      assert.equal(await s.get("a", "x"), { id: "x", v: 1 });
      await s.batch([put("a", "x", 2)]);
      assert.equal(await s.get("a", "x"), { id: "x", v: 2 });
      await s.batch([del("a", "x"), del("a", "never-there")]);
      assert.is(await s.get("a", "x"), undefined);
      assert.equal(await s.list("a"), []);
    } finally {
      await s.close();
    }
  });

  t("values read back exactly as written (key order, unicode, U+0000 inside strings, numbers)", async () => {
    const s = await (await backend.fresh()).open();
    try {
      const value = { id: "r", z: 1, a: { y: [1, 2.5, -0.125, 1e21], b: null, x: true }, s: 'nul\u0000 \u00e9\u{1f600} "quoted" \\', e: {}, n: [] };
      await s.batch([{ table: "a", type: "put", value }]);
      const got = await s.get("a", "r");
      assert.is(JSON.stringify(got), JSON.stringify(value));
    } finally {
      await s.close();
    }
  });

  t("list is in UTF-8 byte order of ids, and tables are separate", async () => {
    const s = await (await backend.fresh()).open();
    try {
      await s.batch(IDS.map((id) => put("a", id)));
      await s.batch([put("b", "a", "other table"), put("b", "zz")]);
      const want = [...IDS].sort(bytes);
      assert.ok(want.indexOf("\uffff") < want.indexOf("\u{1f600}"), "the fixture must tell byte order from UTF-16 order");
      assert.equal(ids(await s.list("a")), want);
      assert.equal(await s.list("b"), [{ id: "a", v: "other table" }, { id: "zz" }]);
    } finally {
      await s.close();
    }
  });

  t("scan: every range, reverse and limit, against a model in byte order", async () => {
    const s = await (await backend.fresh()).open();
    try {
      await s.batch(IDS.map((id) => put("a", id)));
      await s.batch([put("b", "a\u00e9")]); // must not leak into table a's scans
      const sorted = [...IDS].sort(bytes);
      const bounds = [undefined, "a", "a\u00e9", "\uffff", "\u{1f600}", "m", "\u00e9"];
      let cases = 0;
      for (const lower of bounds)
        for (const upper of bounds)
          for (const [lk, uk] of [
            ["gte", "lt"],
            ["gt", "lte"],
          ] as const)
            for (const reverse of [false, true])
              for (const limit of [undefined, 0, 1, 3]) {
                const o = { ...(lower === undefined ? {} : { [lk]: lower }), ...(upper === undefined ? {} : { [uk]: upper }), reverse, ...(limit === undefined ? {} : { limit }) };
                let want = sorted.filter(
                  (id) =>
                    (lower === undefined || (lk === "gte" ? bytes(id, lower) >= 0 : bytes(id, lower) > 0)) &&
                    (upper === undefined || (uk === "lt" ? bytes(id, upper) < 0 : bytes(id, upper) <= 0)),
                );
                if (reverse) want = want.reverse();
                if (limit !== undefined) want = want.slice(0, limit);
                assert.equal(ids(await s.scan("a", o)), want, JSON.stringify(o));
                cases++;
              }
      assert.is(cases, 7 * 7 * 2 * 2 * 4);
      assert.equal(ids(await s.scan("a", { gte: "\uffff", limit: 2 })), ["\uffff", "\u{1f600}"]);
      assert.equal(ids(await s.scan("a", { reverse: true, limit: 1 })), ["\u{1f600}"]);
    } finally {
      await s.close();
    }
  });

  t("a batch across tables is applied as one, in order (the last write of a key wins)", async () => {
    const s = await (await backend.fresh()).open();
    try {
      await s.batch([put("a", "old"), put("b", "old")]);
      await s.batch([del("a", "old"), put("a", "k", 1), put("b", "k", 2), del("b", "old"), put("a", "k", 3), put("b", "gone"), del("b", "gone")]);
      assert.equal(await s.list("a"), [{ id: "k", v: 3 }]);
      assert.equal(await s.list("b"), [{ id: "k", v: 2 }]);
      await s.batch([del("a", "k"), put("a", "k", 4)]);
      assert.equal(await s.get("a", "k"), { id: "k", v: 4 });
      await s.batch([]); // an empty batch is allowed
    } finally {
      await s.close();
    }
  });

  t("a batch with one bad op writes nothing: a value that cannot be serialised, an unknown table, audit events", async () => {
    const s = await (await backend.fresh()).open();
    try {
      await s.batch([put("a", "keep", "before")]);
      // JSON.stringify throws on a BigInt
      await refused(() => s.batch([put("a", "new"), put("b", "new"), del("a", "keep"), put("a", "bad", 10n)]), /BigInt/);
      await rejects(s.batch([put("a", "new"), del("a", "keep"), { table: "nope" as "a", type: "put", value: { id: "x" } }]), "NO_TABLE");
      await rejects(s.batch([put("a", "new"), del("a", "keep")], { audit: [{ type: "device.revoked", actor: "admin", subject: "d" }] }), "NOT_AUDITED");
      assert.equal(await s.list("a"), [{ id: "keep", v: "before" }]);
      assert.equal(await s.list("b"), []);
      await rejects(s.get("nope" as "a", "x"), "NO_TABLE");
    } finally {
      await s.close();
    }
  });

  t("concurrent batches all land, applied in call order", async () => {
    const s = await (await backend.fresh()).open();
    try {
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 60; i++) writes.push(s.batch([put("a", "counter", i), put("b", `n${String(i).padStart(3, "0")}`, i)], { sync: i % 3 !== 0 }));
      await Promise.all(writes);
      assert.equal(await s.get("a", "counter"), { id: "counter", v: 59 });
      assert.is((await s.list("b")).length, 60);
      // a bad batch among good ones fails alone, before it is queued
      const mixed = [s.batch([put("a", "m1")]), s.batch([put("a", "m2", 1n)]), s.batch([put("a", "m3")])];
      const settled = await Promise.allSettled(mixed);
      assert.equal(
        settled.map((r) => r.status),
        ["fulfilled", "rejected", "fulfilled"],
      );
      assert.equal(ids(await s.scan("a", { gte: "m", lt: "n" })), ["m1", "m3"]);
    } finally {
      await s.close();
    }
  });

  t("compare-and-set: a batch is written only while its expectations hold; a refused one writes nothing and names what changed", async () => {
    const s = await (await backend.fresh()).open();
    try {
      await s.batch([put("a", "x", 1)], { expect: [{ table: "a", id: "x", value: undefined }] }); // absent, as expected
      const read = await s.get("a", "x");
      await s.batch([put("a", "x", 2), put("b", "side", 1)], { expect: [{ table: "a", id: "x", value: read }] });
      assert.equal(await s.get("a", "x"), { id: "x", v: 2 });
      // The same expectation again: x is no longer what was read. Nothing of the batch is written.
      const err = await rejects(
        s.batch([put("a", "x", 3), put("b", "other", 1)], { expect: [{ table: "a", id: "x", value: read }] }),
        "CONFLICT",
        /a\/x changed since it was read/,
      );
      assert.ok(isConflict(err));
      assert.equal((err as Error & { conflicts: unknown }).conflicts, [{ table: "a", id: "x" }]);
      assert.equal(await s.get("a", "x"), { id: "x", v: 2 });
      assert.is(await s.get("b", "other"), undefined);
      // Absent expected, present found; and a deleted record expected absent.
      await rejects(s.batch([put("a", "x", 9)], { expect: [{ table: "a", id: "x", value: undefined }] }), "CONFLICT");
      const two: { id: string } = { id: "x", v: 2 } as { id: string };
      await s.batch([del("a", "x")], { expect: [{ table: "a", id: "x", value: two }] });
      await s.batch([put("a", "x", 5)], { expect: [{ table: "a", id: "x", value: undefined }] });
      assert.equal(await s.get("a", "x"), { id: "x", v: 5 });
      // An expectation on a table the store does not have is the caller's mistake.
      await rejects(s.batch([put("a", "y")], { expect: [{ table: "nope", id: "y", value: undefined }] }), "NO_TABLE");
    } finally {
      await s.close();
    }
  });

  t("compare-and-set in one group: the first of two batches expecting the same record wins, a later one sees the earlier's writes, the rest of the group lands", async () => {
    const s = await (await backend.fresh()).open();
    try {
      await s.batch([put("a", "n", 0)]);
      const zero = { id: "n", v: 0 };
      // Not awaited in between, so they are committed together (group commit) after the first.
      const blocker = s.batch([put("b", "first")]);
      const one = s.batch([put("a", "n", 1)], { expect: [{ table: "a", id: "n", value: zero }] });
      const also = s.batch([put("a", "n", 100)], { expect: [{ table: "a", id: "n", value: zero }] });
      const written: { id: string } = { id: "n", v: 1 } as { id: string };
      const chained = s.batch([put("a", "n", 2)], { expect: [{ table: "a", id: "n", value: written }] });
      const plain = s.batch([put("b", "plain")]);
      const outcome = await Promise.allSettled([blocker, one, also, chained, plain]);
      assert.equal(
        outcome.map((o) => o.status),
        ["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"],
      );
      assert.ok(isConflict((outcome[2] as PromiseRejectedResult).reason));
      assert.equal(await s.get("a", "n"), { id: "n", v: 2 });
      assert.equal(ids(await s.list("b")), ["first", "plain"]);
    } finally {
      await s.close();
    }
  });

  t("ids with U+0000 and U+0001 (tether's own separators) are stored, listed, scanned and compared in byte order like any other", async () => {
    const s = await (await backend.fresh()).open();
    try {
      const weird = ["a", "a\u0000", "a\u0000b", "a\u0001", "a\u0001\u0001", "a\u0001\u0002", "a\u0002", "ab", "\u0000", "\u0001x"];
      await s.batch(weird.map((id) => put("a", id, id.length)));
      const byBytes = [...weird].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.equal(ids(await s.list("a")), byBytes);
      assert.equal(ids(await s.scan("a", { gt: "a\u0000", lt: "a\u0002" })), ["a\u0000b", "a\u0001", "a\u0001\u0001", "a\u0001\u0002"]);
      assert.equal(await s.get("a", "a\u0000b"), { id: "a\u0000b", v: 3 });
      assert.is(await s.get("a", "a\u0001\u0001\u0001"), undefined);
      await s.batch([del("a", "a\u0001")], { expect: [{ table: "a", id: "a\u0001", value: { id: "a\u0001", v: 2 } as { id: string } }] });
      const err = await rejects(s.batch([put("a", "a\u0000", 9)], { expect: [{ table: "a", id: "a\u0000", value: undefined }] }), "CONFLICT");
      assert.equal((err as Error & { conflicts: unknown }).conflicts, [{ table: "a", id: "a\u0000" }]);
      assert.is(await s.get("a", "a\u0001"), undefined);
    } finally {
      await s.close();
    }
  });

  t("reopening keeps the data; a closed store refuses", async () => {
    const env = await backend.fresh();
    const s = await env.open();
    await s.batch([put("a", "kept", "yes"), put("b", "\u{1f600}", 1)], { sync: false });
    await s.batch([put("a", "synced")]);
    await s.close();
    await refused(() => s.get("a", "kept"), /closed/);
    await refused(() => s.batch([put("a", "late")]), /closed/);
    const again = await env.open();
    try {
      assert.equal(await again.get("a", "kept"), { id: "kept", v: "yes" });
      assert.equal(ids(await again.list("a")), ["kept", "synced"]);
      assert.equal(await again.list("b"), [{ id: "\u{1f600}", v: 1 }]);
    } finally {
      await again.close();
    }
  });

  t.run();
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL only

const p = suite("PostgreSQL store: schema, transactions, faults");
p.before(async () => {
  server = await startPostgres();
});
p.after(async () => {
  await server?.stop();
});

p("migrations: run once by concurrent opens, recorded; a newer schema is refused with both versions", async () => {
  const url = await freshDatabase();
  const stores = await Promise.all([1, 2, 3].map(() => PgStore.open<S>(url, [...TABLES])));
  await Promise.all(stores.map((s, i) => s.batch([put("a", `from-${i}`)])));
  assert.equal(ids(await stores[0]!.list("a")), ["from-0", "from-1", "from-2"]);
  await Promise.all(stores.map((s) => s.close()));
  const versions = (await sql<{ version: number }>(url, "SELECT version FROM tether_schema_migrations ORDER BY version")).rows.map((r) => r.version);
  assert.equal(
    versions,
    Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1),
  );
  const collation = (await sql(url, "SELECT collation_name FROM information_schema.columns WHERE table_name = 'tether_records' AND column_name = 'id'")).rows[0];
  assert.equal(collation, { collation_name: "C" });

  const newer = PG_SCHEMA_VERSION + 5;
  await sql(url, "INSERT INTO tether_schema_migrations (version) VALUES ($1)", [newer]);
  const err = await rejects(PgStore.open<S>(url, [...TABLES]), "UNSUPPORTED");
  assert.ok(err instanceof PgStoreError);
  assert.match(err.message, new RegExp(`version ${newer}\\b`));
  assert.match(err.message, new RegExp(`version ${PG_SCHEMA_VERSION}\\b`));
  // the refusal changed nothing
  assert.is((await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM tether_records")).rows[0]?.n, 3);
});

p("a failure inside the transaction rolls the whole batch back, and the store goes on", async () => {
  const url = await freshDatabase();
  const s = await PgStore.open<S>(url, [...TABLES]);
  try {
    await s.batch([put("a", "keep", 1), put("b", "keep", 2)]);
    // a real server-side failure after the batch's delete has run: a trigger refuses one id
    await sql(
      url,
      `CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id = 'boom' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$;
       CREATE TRIGGER refuse_boom BEFORE INSERT OR UPDATE ON tether_records FOR EACH ROW EXECUTE FUNCTION refuse_boom();`,
    );
    await rejects(s.batch([del("a", "keep"), put("a", "new"), put("b", "keep", 99), put("b", "boom")]), "WRITE_FAILED", /rolled back: refused by the test/);
    assert.equal(await s.list("a"), [{ id: "keep", v: 1 }]);
    assert.equal(await s.list("b"), [{ id: "keep", v: 2 }]);
    await s.batch([put("a", "after")]);
    assert.equal(ids(await s.list("a")), ["after", "keep"]);
  } finally {
    await s.close();
  }
});

p("a stopped server gives UNAVAILABLE at once, not a hang; the store recovers when it is back", async () => {
  const srv = await startPostgres();
  try {
    const s = await PgStore.open<S>(srv.url, [...TABLES], { connectTimeoutMs: 2_000 });
    try {
      await s.batch([put("a", "before")]);
      await srv.halt();
      const t0 = Date.now();
      await rejects(s.get("a", "before"), "UNAVAILABLE", /PostgreSQL is unavailable/);
      await rejects(s.scan("a", { limit: 1 }), "UNAVAILABLE");
      await rejects(s.batch([put("a", "during")]), "UNAVAILABLE", /not written/);
      await rejects(PgStore.open<S>(srv.url, [...TABLES], { connectTimeoutMs: 2_000 }), "UNAVAILABLE", /cannot connect/);
      assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
      await srv.start();
      assert.equal(ids(await s.list("a")), ["before"]);
      await s.batch([put("a", "after")]);
      assert.equal(ids(await s.list("a")), ["after", "before"]);
    } finally {
      await s.close();
    }
  } finally {
    await srv.stop();
  }
});

p("a server that stops answering (its processes frozen) gives UNAVAILABLE after the timeouts, not a hang", async () => {
  const srv = await startPostgres();
  const frozen: number[] = [];
  try {
    const s = await PgStore.open<S>(srv.url, [...TABLES], { connectTimeoutMs: 800, queryTimeoutMs: 800, poolSize: 2 });
    try {
      await s.batch([put("a", "before")]);
      // the postmaster and every backend it forked: the socket stays, nobody answers
      const postmaster = Number(readFileSync(join(srv.socketDir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
      const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(postmaster)], { encoding: "utf8" })
        .split("\n")
        .filter(Boolean)
        .map(Number);
      for (const pid of [postmaster, ...children]) {
        process.kill(pid, "SIGSTOP");
        frozen.push(pid);
      }
      const t0 = Date.now();
      await rejects(s.get("a", "before"), "UNAVAILABLE");
      await rejects(s.batch([put("a", "during")]), "UNAVAILABLE");
      await rejects(PgStore.open<S>(srv.url, [...TABLES], { connectTimeoutMs: 800 }), "UNAVAILABLE");
      assert.ok(Date.now() - t0 < 6_000, `took ${Date.now() - t0} ms`);
      for (const pid of frozen.splice(0)) process.kill(pid, "SIGCONT");
      assert.equal(ids(await s.list("a")), ["before"]);
    } finally {
      await s.close();
    }
  } finally {
    for (const pid of frozen) process.kill(pid, "SIGCONT");
    await srv.stop();
  }
});

p("exclusive: a second store is refused, or waits (standby) and takes over when the holder's session ends; the old holder is fenced off", async () => {
  const url = await freshDatabase();
  const first = await PgStore.open<S>(url, [...TABLES], { exclusive: true });
  await rejects(PgStore.open<S>(url, [...TABLES], { exclusive: true }), "LOCKED", /another tether daemon is using this database/);
  let waited = 0;
  const standby = PgStore.open<S>(url, [...TABLES], { exclusive: "wait", onWaiting: () => waited++ });
  const failures: Error[] = [];
  first.onFailure((e) => failures.push(e));
  await first.batch([put("a", "before")]);
  await new Promise((r) => setTimeout(r, 300));
  assert.is(waited, 1);
  // The holder's lock session ends (as when its process dies); its pool's connections live on.
  await sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tether-lock' AND datname = current_database()");
  const second = await standby;
  try {
    assert.match(failures[0]?.message ?? "", /lock on the database was lost/);
    // Fenced: a batch of the old holder is refused and not written, though it can still reach the database.
    await rejects(first.batch([put("a", "late")]), "LOCKED", /another process has taken over the database \(writer epoch 2, this store's 1\)/);
    assert.is(await second.get("a", "late"), undefined);
    assert.equal(await first.get("a", "before"), { id: "before" });
    await second.batch([put("a", "after")]);
    assert.equal(ids(await second.list("a")), ["after", "before"]);
  } finally {
    await first.close();
    await second.close();
  }
});

p("an older schema is migrated at open, or refused with both versions when only a fresh database may be set up", async () => {
  const url = await freshDatabase();
  await (await PgStore.open<S>(url, [...TABLES])).close();
  // Back to version 1, as a database an older tether made.
  await sql(url, "DROP TABLE tether_writer, tether_changes; DELETE FROM tether_schema_migrations WHERE version > 1");
  const err = await rejects(PgStore.open<S>(url, [...TABLES], { migrate: "fresh" }), "OUTDATED");
  assert.match(err.message, new RegExp(`version 1, older than this tether's \\(version ${PG_SCHEMA_VERSION}\\)`));
  const up = await PgStore.open<S>(url, [...TABLES]);
  assert.equal(up.schema, { from: 1, to: PG_SCHEMA_VERSION });
  await up.close();
  const fresh = await PgStore.open<S>(await freshDatabase(), [...TABLES], { migrate: "fresh" });
  assert.equal(fresh.schema, { from: 0, to: PG_SCHEMA_VERSION });
  await fresh.close();
});

p("compare-and-set across processes: three stores racing read-modify-write on one counter lose no increment; three racing to create one record, exactly one does", async () => {
  const url = await freshDatabase();
  const stores = await Promise.all([1, 2, 3].map(() => PgStore.open<S>(url, [...TABLES])));
  try {
    await stores[0]!.batch([put("a", "counter", 0)]);
    let conflicts = 0;
    const bump = async (s: PgStore<S>) => {
      for (let i = 0; i < 20; i++) {
        for (;;) {
          const cur = (await s.get("a", "counter")) as { id: string; v: number };
          try {
            await s.batch([put("a", "counter", cur.v + 1)], { expect: [{ table: "a", id: "counter", value: cur }] });
            break;
          } catch (err) {
            if (!isConflict(err)) throw err;
            conflicts++;
          }
        }
      }
    };
    await Promise.all(stores.map(bump));
    assert.equal(await stores[0]!.get("a", "counter"), { id: "counter", v: 60 });
    assert.ok(conflicts > 0, "the stores never raced (no conflict): the test shows nothing");
    const created = await Promise.allSettled(stores.map((s, i) => s.batch([put("a", "once", i)], { expect: [{ table: "a", id: "once", value: undefined }] })));
    assert.is(created.filter((c) => c.status === "fulfilled").length, 1);
    assert.ok(created.every((c) => c.status === "fulfilled" || isConflict(c.reason)));
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});

p("the audit chain stays one chain with three writers on one database: each append expects the head it chained from, and chains again when another moved it", async () => {
  const url = await freshDatabase();
  const stores = await Promise.all([1, 2, 3].map(() => PgStore.open<AuditTables>(url, [...AUDIT_TABLES])));
  try {
    const logs = stores.map((st) => new AuditLog(st, Date.now));
    // Pipelined appends from each writer at once: 3 x 15, with batches of two events among them.
    await Promise.all(
      logs.map(async (log, w) => {
        const pending: Promise<unknown>[] = [];
        for (let i = 0; i < 15; i++) {
          pending.push(
            i % 5 === 0
              ? log.appendAll([
                  { type: AuditEvent.CodeMinted, actor: `w${w}`, subject: `a${i}` },
                  { type: AuditEvent.CodeMinted, actor: `w${w}`, subject: `b${i}` },
                ])
              : log.append(AuditEvent.CodeMinted, `w${w}`, `s${i}`),
          );
        }
        await Promise.all(pending);
      }),
    );
    const v = await logs[0]!.verify();
    assert.ok(v.ok, JSON.stringify(v));
    assert.is(v.entries, 3 * (15 + 3));
    const entries = await logs[1]!.entries();
    assert.equal(
      entries.map((e) => e.seq),
      Array.from({ length: 54 }, (_, i) => i + 1),
    );
  } finally {
    await Promise.all(stores.map((st) => st.close()));
  }
});

p("the change feed: another process's commits reach a follower in commit order, with each record's value now; its own, and refused batches, do not", async () => {
  const url = await freshDatabase();
  const a = await PgStore.open<S>(url, [...TABLES], { feed: true });
  const b = await PgStore.open<S>(url, [...TABLES], { feed: true });
  try {
    await a.batch([put("a", "before")]); // before the follower starts: loaded, not followed
    const got: Change[] = [];
    const f = b.follow(await b.feedEnd(), (c) => void got.push(...c), { pollMs: 100 });
    await a.batch([put("a", "x", 1), put("b", "y", 1)]);
    await b.batch([put("a", "mine")]);
    await a.batch([put("a", "x", 2)]);
    await rejects(a.batch([put("a", "z")], { expect: [{ table: "a", id: "x", value: undefined }] }), "CONFLICT");
    await a.batch([del("b", "y")]);
    await waitUntil(() => got.length >= 4);
    await new Promise((r) => setTimeout(r, 300)); // nothing more comes
    // In commit order; each with the record's value when the follower read it (so the last of
    // each key is its value now), never the follower's own write or the refused batch's.
    assert.equal(
      got.map((c) => [c.table, c.id]),
      [
        ["a", "x"],
        ["b", "y"],
        ["a", "x"],
        ["b", "y"],
      ],
    );
    assert.equal(got[2]?.value, { id: "x", v: 2 });
    assert.is(got[3]?.value, undefined);
    assert.ok(got.every((c, i) => i === 0 || c.seq > got[i - 1]!.seq));
    assert.ok(f.lagMs() < 2_000, `lag ${f.lagMs()}`);
  } finally {
    await a.close();
    await b.close();
  }
});

p("the change feed with three writers at once: a follower applying it in order ends exactly where the database is; a dropped LISTEN connection delays, never loses", async () => {
  const url = await freshDatabase();
  const writers = await Promise.all([1, 2, 3].map(() => PgStore.open<S>(url, [...TABLES], { feed: true })));
  const reader = await PgStore.open<S>(url, [...TABLES]);
  try {
    const memory = new Map<string, unknown>();
    const f = reader.follow(
      await reader.feedEnd(),
      (cs) => {
        for (const c of cs) {
          if (c.value === undefined) memory.delete(`${c.table}/${c.id}`);
          else memory.set(`${c.table}/${c.id}`, c.value);
        }
      },
      { pollMs: 200 },
    );
    await Promise.all(
      writers.map(async (w, n) => {
        for (let i = 0; i < 30; i++) {
          const key = `k${i % 7}`; // the writers overwrite each other's keys
          if (i % 5 === 4) await w.batch([del("a", key)]);
          else await w.batch([put("a", key, `${n}.${i}`), put("b", `${n}-${i}`, i)]);
          if (n === 0 && i === 10) await sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tether-feed' AND datname = current_database()");
        }
      }),
    );
    const truth = new Map<string, unknown>();
    for (const t of ["a", "b"] as const) for (const r of await reader.list(t)) truth.set(`${t}/${r.id}`, r);
    await waitUntil(() => memory.size === truth.size && JSON.stringify([...memory].sort()) === JSON.stringify([...truth].sort()), 10_000);
    assert.equal(new Map([...memory].sort()), new Map([...truth].sort()));
    assert.ok(f.position > 0);
  } finally {
    await Promise.all([...writers, reader].map((s) => s.close()));
  }
});

async function waitUntil(ok: () => boolean, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

p.run();
