/**
 * The daemon on a PostgreSQL store (docs/scaling.md; docs/security.md rows 54-56), against a
 * throw-away PostgreSQL 15 on a Unix socket (test/postgres.ts) and real daemons: `tether ca
 * new-kek`; `tether daemon --store postgresql://... --kek-file`, which makes the CA in an empty
 * database sealed under the KEK (no private key in the database's text, only the server
 * certificate in the data directory); a node paired and a job run through it; a second data
 * directory on the same database is the same authority with the same devices; a wrong, loose
 * or missing KEK, an unreachable database, a second daemon on the database and a database
 * with records but no vault are each refused with their exit code and nothing changed;
 * health NOT_SERVING while PostgreSQL is stopped and SERVING when it is back; `tether ca
 * export-kek`; the password of a --store URL never printed.
 */
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import pg from "pg";
import { cli, cliPair, startDaemonWith, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { Ready } from "./helpers.ts";
import { startPostgres } from "./postgres.ts";
import type { TestPostgres } from "./postgres.ts";

const P = suite("daemon on PostgreSQL");
const ctx = {} as { pg: TestPostgres; tmp: ReturnType<typeof tempDir>; kek: string; url: string };

/** A database of its own for each test, on the one server. */
let dbs = 0;
async function freshDatabase(): Promise<string> {
  const name = `t${++dbs}`;
  const c = new pg.Client({ connectionString: ctx.pg.url });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return ctx.pg.url.replace("/postgres?", `/${name}?`);
}

async function query<T extends object>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Every record's text, for "nothing changed" comparisons. */
const snapshot = async (url: string) => JSON.stringify(await query(url, "SELECT tbl, id, value::text AS v FROM tether_records ORDER BY tbl, id").catch(() => []));

P.before(async () => {
  ctx.pg = await startPostgres();
  ctx.tmp = tempDir("tether-pgd-");
  ctx.kek = join(ctx.tmp.path, "kek.json");
  const made = await cli(["ca", "new-kek", ctx.kek, "--json"]);
  assert.is(made.code, 0, made.stderr);
  ctx.url = await freshDatabase();
});
P.after(async () => {
  await ctx.pg.stop();
  ctx.tmp.remove();
});

P("tether ca new-kek writes a 0600 key and prints only its id; it never replaces one", async () => {
  assert.is(statSync(ctx.kek).mode & 0o777, 0o600);
  const key = (JSON.parse(readFileSync(ctx.kek, "utf8")) as { kek: string }).kek;
  assert.match(key, /^[0-9a-f]{64}$/);
  const again = await cli(["ca", "new-kek", ctx.kek, "--json"]);
  assert.is(again.code, 5, again.stderr);
  assert.match(again.stderr, /already exists/);
  assert.is((JSON.parse(readFileSync(ctx.kek, "utf8")) as { kek: string }).kek, key, "the key was replaced");
  const other = join(ctx.tmp.path, "other.json");
  const r = await cli(["ca", "new-kek", other, "--json"]);
  const out = JSON.parse(r.stdout) as { kekId: string };
  assert.match(out.kekId, /^[0-9a-f]{16}$/);
  assert.not.match(r.stdout, new RegExp((JSON.parse(readFileSync(other, "utf8")) as { kek: string }).kek), "the key was printed");
});

P("a daemon on an empty database makes the CA there, sealed; a node pairs and runs a job; another data directory is the same authority", async () => {
  const data = join(ctx.tmp.path, "a");
  const { d, ready } = await startDaemonWith(["--data-dir", data, "--listen", "127.0.0.1:0", "--store", ctx.url, "--kek-file", ctx.kek]);
  try {
    // The CA's keys are in the database, sealed: no PEM text, no private key there.
    const vault = await query<{ id: string; v: string }>(ctx.url, "SELECT id, value::text AS v FROM tether_records WHERE tbl = 'vault' ORDER BY id");
    assert.equal(
      vault.map((r) => r.id),
      ["ca.key", "ca.pem", "seal.key", "signer.key", "signer.pem", "token.key"],
    );
    const all = await query<{ v: string }>(ctx.url, "SELECT value::text AS v FROM tether_records");
    assert.not.ok(
      all.some((r) => /BEGIN|PRIVATE KEY|ed25519Seed|aes256gcmKey/.test(r.v)),
      "key material in the clear in the database",
    );
    // Only this replica's own server certificate is on its disk, and the CA's certificate (public, for the CLI): no CA key.
    assert.equal(readdirSync(join(data, "ca")).sort(), ["ca.pem", "server.hosts", "server.key", "server.pem"]);
    assert.is(
      readFileSync(join(data, "ca", "ca.pem"), "utf8")
        .trim()
        .startsWith("-----BEGIN CERTIFICATE-----"),
      true,
    );
    assert.not.ok(existsSync(join(data, "store")), "a LevelDB store was made");

    const node = join(ctx.tmp.path, "node-a");
    const code = (JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", data])).stdout) as { code: string }).code;
    const paired = await cliPair(data, ["--daemon", ready.listen, "--pin", code, "--name", "pg-node"], node);
    assert.is(paired.result.caFingerprint, ready.caFingerprint);
    const run = (await import("./helpers.ts")).spawnCli(["node", "run", "--state-dir", node, "--capability", "echo=cat"]);
    try {
      await waitFor(async () => {
        const l = await cli(["devices", "list", "--json", "--data-dir", data]);
        return (JSON.parse(l.stdout) as { online: boolean }[])[0]?.online;
      }, "the node online");
      const job = await cli(["dispatch", paired.result.deviceId, "echo", "--input", '{"n":1}', "--json", "--data-dir", data]);
      assert.is(job.code, 0, job.stderr);
      assert.is((JSON.parse(job.stdout) as { state: string }).state, "succeeded");
      // Idempotency keys (their records' ids hold U+0000, which the store escapes for SQL text).
      const keyed = () => cli(["dispatch", paired.result.deviceId, "echo", "--input", "2", "--idempotency-key", "k-1", "--json", "--data-dir", data]);
      const first = JSON.parse((await keyed()).stdout) as { id: string };
      const again = JSON.parse((await keyed()).stdout) as { id: string };
      assert.is(again.id, first.id);
    } finally {
      run.child.kill("SIGTERM");
      await run.exited;
    }
    const audit = await cli(["audit", "verify", "--json", "--data-dir", data]);
    assert.is(audit.code, 0, audit.stderr);
    const st = JSON.parse((await cli(["status", "--json", "--data-dir", data])).stdout) as { store: string; writerEpoch: number; schemaVersion: number };
    assert.equal([st.store, st.writerEpoch, st.schemaVersion], [ctx.url, 1, 3]);
    const text = (await cli(["status", "--data-dir", data])).stdout;
    assert.match(text, /database: +postgresql:\/\/.* \(schema 3; the active daemon, writer epoch 1\)/);
  } finally {
    assert.is(await stopDaemonProcess(d), 0, d.err());
  }
  // A second data directory (another machine) on the same database: the same CA, the same device.
  const data2 = join(ctx.tmp.path, "b");
  const second = await startDaemonWith(["--data-dir", data2, "--listen", "127.0.0.1:0", "--store", ctx.url, "--kek-file", ctx.kek]);
  try {
    assert.is(second.ready.caFingerprint, ready.caFingerprint);
    const l = await cli(["devices", "list", "--json", "--data-dir", data2]);
    assert.equal(
      (JSON.parse(l.stdout) as { name: string }[]).map((x) => x.name),
      ["pg-node"],
    );
  } finally {
    await stopDaemonProcess(second.d);
  }
});

P("a wrong, loose or missing KEK, or none, is refused before anything is written", async () => {
  const before = await snapshot(ctx.url);
  const data = join(ctx.tmp.path, "refused");
  const start = (extra: string[]) => cli(["daemon", "--data-dir", data, "--listen", "127.0.0.1:0", "--store", ctx.url, ...extra], { timeoutMs: 20_000 });
  const other = join(ctx.tmp.path, "wrong.json");
  await cli(["ca", "new-kek", other]);
  const wrong = await start(["--kek-file", other]);
  assert.is(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, /sealed under the key-encryption key [0-9a-f]{16}, but .*wrong\.json holds [0-9a-f]{16}/);
  const loose = join(ctx.tmp.path, "loose.json");
  writeFileSync(loose, readFileSync(ctx.kek));
  chmodSync(loose, 0o644);
  const r2 = await start(["--kek-file", loose]);
  assert.is(r2.code, 1, r2.stderr);
  assert.match(r2.stderr, /readable by others \(mode 0644\)/);
  const r3 = await start(["--kek-file", join(ctx.tmp.path, "absent.json")]);
  assert.is(r3.code, 1, r3.stderr);
  assert.match(r3.stderr, /does not exist: for the first replica make one with `tether ca new-kek/);
  const r4 = await start([]);
  assert.is(r4.code, 2, r4.stderr);
  assert.match(r4.stderr, /give --kek-file FILE/);
  const bad = join(ctx.tmp.path, "bad.json");
  writeFileSync(bad, '{"kek": "00"}', { mode: 0o600 });
  const r5 = await start(["--kek-file", bad]);
  assert.is(r5.code, 1, r5.stderr);
  assert.match(r5.stderr, /is not \{"kek": "<64 hex digits>"\}/);
  for (const r of [wrong, r2, r3, r4, r5]) assert.not.match(r.stderr + r.stdout, /"kek":\s*"[0-9a-f]{64}"/);
  assert.is(await snapshot(ctx.url), before, "a refused start changed the database");
});

P("an unreachable database: exit 3 within seconds, saying so; a second daemon on a database: exit 9", async () => {
  const data = join(ctx.tmp.path, "unreach");
  const started = Date.now();
  const r = await cli(["daemon", "--data-dir", data, "--store", `postgresql://postgres@/postgres?host=${join(ctx.tmp.path, "no-such-socket-dir")}`, "--kek-file", ctx.kek], {
    timeoutMs: 30_000,
  });
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, /PostgreSQL is unavailable/);
  assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);

  const url = await freshDatabase();
  const first = await startDaemonWith(["--data-dir", join(ctx.tmp.path, "one"), "--listen", "127.0.0.1:0", "--store", url, "--kek-file", ctx.kek]);
  try {
    const second = await cli(["daemon", "--data-dir", join(ctx.tmp.path, "two"), "--listen", "127.0.0.1:0", "--store", url, "--kek-file", ctx.kek], { timeoutMs: 20_000 });
    assert.is(second.code, 9, second.stderr);
    assert.match(second.stderr, /another tether daemon is using this database/);
  } finally {
    await stopDaemonProcess(first.d);
  }
});

P("a database with tether records but no key vault is refused (a new CA would orphan them)", async () => {
  const url = await freshDatabase();
  const first = await startDaemonWith(["--data-dir", join(ctx.tmp.path, "orphan"), "--listen", "127.0.0.1:0", "--store", url, "--kek-file", ctx.kek]);
  await stopDaemonProcess(first.d);
  await query(url, "DELETE FROM tether_records WHERE tbl = 'vault'");
  const before = await snapshot(url);
  const r = await cli(["daemon", "--data-dir", join(ctx.tmp.path, "orphan2"), "--store", url, "--kek-file", ctx.kek], { timeoutMs: 20_000 });
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /has no CA .* but the database holds tether records/);
  assert.is(await snapshot(url), before);
});

P("PostgreSQL stopped: health is not SERVING and calls are refused UNAVAILABLE; started again: the daemon restarts itself on it, with its state", async () => {
  const url = await freshDatabase();
  const data = join(ctx.tmp.path, "outage");
  const { d, ready } = await startDaemonWith(["--data-dir", data, "--listen", "127.0.0.1:0", "--store", url, "--kek-file", ctx.kek]);
  const health = () => cli(["health", "--json", "--data-dir", data]);
  try {
    const code = (JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", data])).stdout) as { code: string }).code;
    await cliPair(data, ["--daemon", ready.listen, "--pin", code, "--name", "survivor"], join(ctx.tmp.path, "node-outage"));
    assert.is((await health()).code, 0);
    await ctx.pg.halt();
    try {
      // NOT_SERVING (1) while the daemon still answers, or no daemon (3) while it restarts.
      const down = await waitFor(async () => {
        const h = await health();
        return h.code !== 0 ? h : undefined;
      }, "not SERVING");
      assert.ok(down.code === 1 || down.code === 3, `health exit ${down.code}: ${down.stdout}${down.stderr}`);
      const list = await cli(["devices", "list", "--json", "--data-dir", data], { timeoutMs: 60_000 });
      assert.is(list.code, 3, list.stderr);
      await waitFor(() => /the database does not answer yet; trying again every second/.test(d.err()) || undefined, "the restart loop");
      assert.is(d.child.exitCode, null, "the daemon exited");
    } finally {
      await ctx.pg.start();
    }
    await waitFor(async () => ((await health()).code === 0 ? true : undefined), "SERVING again", 30_000);
    assert.match(d.err(), /daemon restarted on the database/);
    // A second ready line says so on stdout, for a supervisor watching it.
    const readyLines = d
      .out()
      .split("\n")
      .filter((l) => l.includes('"ready"'))
      .map((l) => JSON.parse(l) as Ready & { restarted?: boolean });
    assert.equal(
      readyLines.map((r) => [r.listen, r.restarted ?? false]),
      [
        [ready.listen, false],
        [ready.listen, true],
      ],
    );
    const list = await cli(["devices", "list", "--json", "--data-dir", data]);
    assert.is(list.code, 0, list.stderr);
    assert.equal(
      (JSON.parse(list.stdout) as { name: string }[]).map((x) => x.name),
      ["survivor"],
    );
    // The same port: nodes reconnect to the address they have.
    const status = await cli(["status", "--json", "--data-dir", data]);
    assert.is((JSON.parse(status.stdout) as { listen: string }).listen, ready.listen);
  } finally {
    assert.is(await stopDaemonProcess(d), 0, d.err());
  }
});

P("tether ca export-kek checks the key against the database's vault and copies it 0600; a wrong key or an existing file is refused", async () => {
  const out = join(ctx.tmp.path, "copy.json");
  const r = await cli(["ca", "export-kek", "--store", ctx.url, "--kek-file", ctx.kek, "--out", out, "--json"]);
  assert.is(r.code, 0, r.stderr);
  assert.is((JSON.parse(r.stdout) as { items: number }).items, 6);
  assert.is(statSync(out).mode & 0o777, 0o600);
  assert.equal(JSON.parse(readFileSync(out, "utf8")), JSON.parse(readFileSync(ctx.kek, "utf8")));
  assert.not.match(r.stdout, /[0-9a-f]{64}/);
  const again = await cli(["ca", "export-kek", "--store", ctx.url, "--kek-file", ctx.kek, "--out", out]);
  assert.is(again.code, 5, again.stderr);
  const wrong = await cli(["ca", "export-kek", "--store", ctx.url, "--kek-file", join(ctx.tmp.path, "wrong.json"), "--out", join(ctx.tmp.path, "copy2.json")]);
  assert.is(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, /sealed under the key-encryption key/);
  assert.not.ok(existsSync(join(ctx.tmp.path, "copy2.json")));
});

P(
  "tether store migrate moves a stopped embedded install, verified; the CA and devices are the same on PostgreSQL; a cut-short move is never started on and is redone",
  async () => {
    const level = join(ctx.tmp.path, "embedded");
    const { d, ready } = await startDaemonWith(["--data-dir", level, "--listen", "127.0.0.1:0"]);
    let running;
    try {
      const code = (JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", level])).stdout) as { code: string }).code;
      await cliPair(level, ["--daemon", ready.listen, "--pin", code, "--name", "moved"], join(ctx.tmp.path, "node-moved"));
      // While the daemon runs, its store is locked: refused, nothing written.
      const url = await freshDatabase();
      running = await cli(["store", "migrate", "--from", `level:${level}`, "--to", url, "--kek-file", ctx.kek]);
      assert.is(running.code, 9, running.stderr);
      assert.match(running.stderr, /a daemon is running on/);
      assert.is(await snapshot(url), "[]");
    } finally {
      await stopDaemonProcess(d);
    }
    const url = await freshDatabase();
    const r = await cli(["store", "migrate", "--from", `level:${level}`, "--to", url, "--kek-file", ctx.kek, "--json"]);
    assert.is(r.code, 0, r.stderr);
    const moved = JSON.parse(r.stdout) as { tables: Record<string, number>; audit: { entries: number; head: string }; caFingerprint: string; clearedUnfinished: number };
    assert.is(moved.tables.devices, 1);
    assert.ok(moved.audit.entries >= 4, `audit entries: ${moved.audit.entries}`);
    assert.is(moved.caFingerprint, ready.caFingerprint);
    const again = await cli(["store", "migrate", "--from", `level:${level}`, "--to", url, "--kek-file", ctx.kek]);
    assert.is(again.code, 5, again.stderr);
    assert.match(again.stderr, /already holds a tether authority/);

    const pgData = join(ctx.tmp.path, "moved-replica");
    const on = await startDaemonWith(["--data-dir", pgData, "--listen", "127.0.0.1:0", "--store", url, "--kek-file", ctx.kek]);
    try {
      assert.is(on.ready.caFingerprint, ready.caFingerprint);
      const l = await cli(["devices", "list", "--json", "--data-dir", pgData]);
      assert.equal(
        (JSON.parse(l.stdout) as { name: string }[]).map((x) => x.name),
        ["moved"],
      );
      const v = await cli(["audit", "verify", "--json", "--data-dir", pgData, "--head", moved.audit.head]);
      assert.is(v.code, 0, v.stderr + v.stdout);
    } finally {
      await stopDaemonProcess(on.d);
    }

    // A move cut short before its commit point (the keys): records and the marker, no vault.
    const cut = await freshDatabase();
    assert.is((await cli(["store", "migrate", "--from", `level:${level}`, "--to", cut, "--kek-file", ctx.kek])).code, 0);
    await query(cut, "DELETE FROM tether_records WHERE tbl = 'vault'");
    await query(cut, `INSERT INTO tether_records (tbl, id, value) VALUES ('storeMigration', 'unfinished', '{"id":"unfinished"}')`);
    const refused = await cli(["daemon", "--data-dir", join(ctx.tmp.path, "cut"), "--store", cut, "--kek-file", ctx.kek], { timeoutMs: 20_000 });
    assert.is(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /has no CA/);
    const redo = await cli(["store", "migrate", "--from", `level:${level}`, "--to", cut, "--kek-file", ctx.kek, "--json"]);
    assert.is(redo.code, 0, redo.stderr);
    const redone = JSON.parse(redo.stdout) as { records: number; clearedUnfinished: number };
    assert.is(redone.clearedUnfinished, redone.records);
    // Records without the marker are not a move of ours: refused, not cleared.
    const foreign = await freshDatabase();
    await cli(["store", "upgrade", "--store", foreign]);
    await query(foreign, `INSERT INTO tether_records (tbl, id, value) VALUES ('devices', 'dev_x', '{"id":"dev_x"}')`);
    const no = await cli(["store", "migrate", "--from", `level:${level}`, "--to", foreign, "--kek-file", ctx.kek]);
    assert.is(no.code, 5, no.stderr);
    assert.match(no.stderr, /already holds tether records \(table devices\) but no key vault/);
  },
);

P("tether store upgrade sets up and reports the schema; a newer schema is refused by it and by a daemon, naming both versions", async () => {
  const url = await freshDatabase();
  const first = await cli(["store", "upgrade", "--store", url, "--json"]);
  assert.is(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout), { store: url, from: 0, to: 3 });
  const second = await cli(["store", "upgrade", "--store", url, "--json"]);
  assert.equal((JSON.parse(second.stdout) as { from: number }).from, 3);
  await query(url, "INSERT INTO tether_schema_migrations (version) VALUES (99)");
  const newer = await cli(["store", "upgrade", "--store", url]);
  assert.is(newer.code, 14, newer.stderr);
  assert.match(newer.stderr, /version 99, newer than this tether knows \(version 3\)/);
  const daemon = await cli(["daemon", "--data-dir", join(ctx.tmp.path, "newer"), "--store", url, "--kek-file", ctx.kek], { timeoutMs: 20_000 });
  assert.is(daemon.code, 14, daemon.stderr);
  assert.match(daemon.stderr, /version 99/);
  const lvl = await cli(["store", "upgrade", "--store", "level:/tmp/x"]);
  assert.is(lvl.code, 2, lvl.stderr);
});

P("a --store URL's password is never printed (print-config, errors)", async () => {
  const url = "postgresql://tether:s3cret-pass@127.0.0.1:1/tether?password=other-secret";
  const pc = await cli(["daemon", "--print-config", "--json", "--store", url, "--kek-file", ctx.kek]);
  assert.is(pc.code, 0, pc.stderr);
  assert.is((JSON.parse(pc.stdout) as { settings: { store: { value: string } } }).settings.store.value, "postgresql://tether:***@127.0.0.1:1/tether?password=***");
  const r = await cli(["daemon", "--data-dir", join(ctx.tmp.path, "pw"), "--store", url, "--kek-file", ctx.kek], { timeoutMs: 30_000 });
  assert.is(r.code, 3, r.stderr);
  for (const text of [pc.stdout, pc.stderr, r.stdout, r.stderr]) assert.not.match(text, /s3cret-pass|other-secret/);
  const bad = await cli(["daemon", "--store", "mysql://root:hunter2@db/x"]);
  assert.is(bad.code, 2);
  assert.not.match(bad.stderr, /hunter2/);
});

P.run();
