/**
 * `tether store migrate --from level:DIR --to postgresql://...`: an embedded install moved to
 * a shared database, offline (the source daemon stopped: its store's lock is taken; the target
 * locked against daemons for the move).
 *
 * Steps, in an order that leaves no half-move a daemon would start on:
 * 1. the source is opened (a damaged store is refused, as the daemon would refuse it), its
 *    audit chain verified, and its CA files read and checked (as a daemon start reads them);
 * 2. the target must be empty: no vault, no records, or only the records of an unfinished
 *    earlier migrate (its `storeMigration` marker), which are cleared first;
 * 3. the marker is written, then every table is copied in id order, a page per transaction;
 * 4. each table's count and the audit chain (entries and head hash) are verified on the target;
 * 5. the CA, token, seal and signer keys are sealed into the vault under the KEK, in one
 *    batch: the commit point. A daemon refuses a database with records and no vault
 *    (STORE_WITHOUT_CA), so a move cut short before this step cannot be started on; a
 *    repeated migrate clears it (step 2). The marker is removed last.
 *
 * The source is left as it was: a rollback is starting the embedded daemon again.
 */
import { join } from "node:path";
import type { Repository } from "@tether/base";
import { AuditLog } from "@tether/audit";
import { filePlace, openKeys } from "./authority.js";
import { redactStoreUrl } from "./config.js";
import { STORE_TABLES } from "./daemon.js";
import { DaemonError, startFailure } from "./errors.js";
import { PG_START_TIMEOUT_MS } from "./stores.js";
import { VAULT_TABLE, openVault, readKekFile } from "./vault.js";
import type { VaultTables } from "./vault.js";

/** The items of a data directory's ca/ that the vault holds (the server pair stays with each replica). */
export const SHARED_KEY_ITEMS = ["ca.pem", "ca.key", "token.key", "seal.key", "signer.pem", "signer.key"] as const;
const MARKER_TABLE = "storeMigration";
const PAGE = 1_000;

type Rec = { id: string };
type Any = Record<string, Rec>;

export type MigrateResult = {
  from: string;
  to: string;
  caFingerprint: string;
  kekId: string;
  tables: Record<string, number>;
  records: number;
  audit: { entries: number; head: string };
  /** records of an unfinished earlier migrate that were cleared first */
  clearedUnfinished: number;
};

async function countAll(repo: Repository<Any>, table: string): Promise<number> {
  let n = 0;
  for (let gt: string | undefined; ;) {
    const page = await repo.scan(table, { limit: PAGE, ...(gt !== undefined ? { gt } : {}) });
    n += page.length;
    if (page.length < PAGE) return n;
    gt = (page[page.length - 1] as Rec).id;
  }
}

/**
 * Move the embedded store of `dataDir` to the database at `url`, sealing its keys under the
 * KEK in `kekFile`.
 * @throws DaemonError DATA_DIR_IN_USE (the daemon runs), STORE_DAMAGED, AUDIT_BROKEN, CA_MISSING
 *   and the other key-file errors, KEK_*, STORE_UNAVAILABLE, STORE_IN_USE, TARGET_NOT_EMPTY,
 *   MIGRATE_MISMATCH (a count or the chain differs after the copy; the target is left without
 *   a vault, so no daemon starts on it)
 */
export async function migrateStore(
  dataDir: string,
  url: string,
  kekFile: string,
  o: { now?: () => number; onProgress?: (table: string, copied: number) => void } = {},
): Promise<MigrateResult> {
  const now = o.now ?? Date.now;
  const to = redactStoreUrl(url);
  const kek = readKekFile(kekFile);
  const source = filePlace(join(dataDir, "ca"));
  if (source.isEmpty()) throw new DaemonError("CA_MISSING", `${join(dataDir, "ca")} holds no CA: there is no embedded install in ${dataDir} to move`);
  const keys = await openKeys({ shared: source, local: source, now: now(), stateElsewhere: () => undefined });
  const { Store } = await import("@tether/store");
  let src: import("@tether/store").Store<Any>;
  try {
    src = await Store.open<Any>(join(dataDir, "store"), STORE_TABLES as unknown as string[]);
  } catch (err) {
    const e = startFailure(dataDir, err);
    if (e instanceof DaemonError && e.code === "DATA_DIR_IN_USE")
      throw new DaemonError("DATA_DIR_IN_USE", `a daemon is running on ${dataDir}: stop it first (migrate moves a stopped install)`, { cause: err });
    throw e;
  }
  try {
    const chain = await new AuditLog(src as unknown as Repository<never>, now).verify();
    if (!chain.ok)
      throw new DaemonError(
        "AUDIT_BROKEN",
        `the audit chain of ${dataDir}/store is broken at entry ${chain.brokenAt} (${chain.reason}): see tether audit verify; nothing was moved`,
      );
    const { PgStore, PgStoreError } = await import("@tether/store-pg");
    let dst: import("@tether/store-pg").PgStore<Any>;
    try {
      dst = await PgStore.open<Any>(url, [...STORE_TABLES, VAULT_TABLE, MARKER_TABLE], { exclusive: true, connectTimeoutMs: PG_START_TIMEOUT_MS });
    } catch (err) {
      if (err instanceof PgStoreError) {
        const code = err.code === "UNAVAILABLE" ? "STORE_UNAVAILABLE" : err.code === "LOCKED" ? "STORE_IN_USE" : "STORE_OPEN_FAILED";
        throw new DaemonError(code, `cannot use the store ${to}: ${err.message}`, { cause: err });
      }
      throw err;
    }
    try {
      // 2. An empty target, or an unfinished move to clear.
      if ((await dst.scan(VAULT_TABLE, { limit: 1 })).length) {
        throw new DaemonError("TARGET_NOT_EMPTY", `${to} already holds a tether authority (its key vault): migrate only fills an empty database; nothing was changed`);
      }
      const unfinished = (await dst.scan(MARKER_TABLE, { limit: 1 })).length > 0;
      let cleared = 0;
      for (const t of STORE_TABLES) {
        for (;;) {
          const page = await dst.scan(t, { limit: PAGE });
          if (!page.length) break;
          if (!unfinished) {
            throw new DaemonError(
              "TARGET_NOT_EMPTY",
              `${to} already holds tether records (table ${t}) but no key vault: migrate only fills an empty database; nothing was changed`,
            );
          }
          await dst.batch(page.map((r) => ({ table: t, type: "del" as const, key: r.id })));
          cleared += page.length;
        }
      }
      // 3. The marker, then the copy.
      await dst.batch([{ table: MARKER_TABLE, type: "put", value: { id: "unfinished", from: dataDir, startedAt: now() } as Rec }]);
      const tables: Record<string, number> = {};
      for (const t of STORE_TABLES) {
        let n = 0;
        for (let gt: string | undefined; ;) {
          const page = await src.scan(t, { limit: PAGE, ...(gt !== undefined ? { gt } : {}) });
          if (page.length) await dst.batch(page.map((value) => ({ table: t, type: "put" as const, value })));
          n += page.length;
          o.onProgress?.(t, n);
          if (page.length < PAGE) break;
          gt = (page[page.length - 1] as Rec).id;
        }
        tables[t] = n;
      }
      // 4. Verified on the target, before the commit point.
      for (const t of STORE_TABLES) {
        const there = await countAll(dst, t);
        if (there !== tables[t])
          throw new DaemonError(
            "MIGRATE_MISMATCH",
            `table ${t}: ${tables[t]} records copied but ${there} found in ${to}; the target has no key vault, so no daemon will start on it: run migrate again`,
          );
      }
      const moved = await new AuditLog(dst as unknown as Repository<never>, now).verify(chain.entries ? { head: chain.head } : {});
      if (!moved.ok || moved.entries !== chain.entries || moved.head !== chain.head) {
        throw new DaemonError(
          "MIGRATE_MISMATCH",
          `the audit chain in ${to} does not match the source's (${chain.entries} entries, head ${chain.head}); the target has no key vault, so no daemon will start on it`,
        );
      }
      // 5. The commit point: the keys, sealed, in one batch.
      const vault = await openVault(dst as unknown as Repository<VaultTables>, kek, kekFile);
      await vault.create(async (into) => {
        for (const name of SHARED_KEY_ITEMS) {
          const text = source.read(name);
          if (text !== undefined) await into.write(name, text, 0o600);
        }
      });
      await dst.batch([{ table: MARKER_TABLE, type: "del", key: "unfinished" }]);
      const records = Object.values(tables).reduce((a, b) => a + b, 0);
      return {
        from: join(dataDir, "store"),
        to,
        caFingerprint: keys.ca.fingerprint,
        kekId: kek.id,
        tables,
        records,
        audit: { entries: chain.entries, head: chain.head },
        clearedUnfinished: cleared,
      };
    } finally {
      await dst.close().catch(() => {});
    }
  } finally {
    await src.close().catch(() => {});
  }
}
