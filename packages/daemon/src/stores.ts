/**
 * Which store the daemon runs on, opened with its key material: the embedded LevelDB store in
 * the data directory (the default), or a PostgreSQL database (--store postgresql://...) whose
 * vault holds the CA sealed under the key-encryption key (vault.ts). Both are the one storage
 * contract (Repository) to the rest of the daemon; this module is the only one that knows
 * which it is.
 *
 * The order keeps a refused start from changing anything it can avoid changing: with LevelDB
 * the key files are checked before the store is opened; with PostgreSQL the KEK file is
 * checked before the database is reached, and the vault is opened (every item unsealed)
 * before anything is written to it.
 */
import { join } from "node:path";
import type { Repository } from "@tether/base";
import { filePlace, openKeyFiles, openKeys } from "./authority.js";
import type { KeyFiles } from "./authority.js";
import type { DaemonConfig } from "./config.js";
import { redactStoreUrl } from "./config.js";
import { DaemonError, startFailure } from "./errors.js";
import { CLUSTER_TABLE } from "./cluster.js";
import { VAULT_TABLE, openVault, readKekFile, writeKekCopy } from "./vault.js";
import type { VaultTables } from "./vault.js";
import type { Schema } from "@tether/base";

/** What the daemon needs of its store beyond the contract: commit timings, failures, closing. */
export type DaemonStore<S extends Schema> = Repository<S> & {
  readonly corruptReads: number;
  onCommit(fn: (seconds: number, durable: boolean) => void): void;
  /** a failed write: the daemon fails closed (health.ts) */
  onFailure(fn: (err: Error) => void): void;
  close(): Promise<void>;
  /** PostgreSQL only: whether the database answers now (health) */
  ping?(timeoutMs?: number): Promise<boolean>;
};

export type OpenedStore<S extends Schema> = {
  store: DaemonStore<S>;
  keys: KeyFiles;
  /** "level" or "postgresql", for Admin.Status and the logs */
  kind: "level" | "postgresql";
  /** where, as it may be shown: a directory, or the URL without its password */
  where: string;
  /** PostgreSQL: the writer epoch taken with the lock, and the schema version (0 on LevelDB) */
  writerEpoch: number;
  schemaVersion: number;
};

/** The DaemonError for a PostgreSQL store that did not open (anything else is returned as it is). */
export function pgOpenFailure(err: unknown, where: string, PgStoreError: typeof import("@tether/store-pg").PgStoreError): unknown {
  if (!(err instanceof PgStoreError)) return err;
  const code =
    { UNAVAILABLE: "STORE_UNAVAILABLE", LOCKED: "STORE_IN_USE", UNSUPPORTED: "STORE_UNSUPPORTED", OUTDATED: "STORE_OUTDATED" }[err.code as string] ?? "STORE_OPEN_FAILED";
  const extra =
    err.code === "LOCKED"
      ? ": start this one with --replica to serve beside it (forwarding to it), or --standby to wait for it (docs/scaling.md)"
      : err.code === "UNAVAILABLE"
        ? ": is it running, and is the URL right? Nothing was changed"
        : "";
  return new DaemonError(code, `cannot use the store ${where}: ${err.message}${extra}`, { cause: err });
}

/** How long a replica waits for PostgreSQL at start before it gives up (exit 3). */
export const PG_START_TIMEOUT_MS = 5_000;

/**
 * Open the store the configuration names, with its key material.
 * @throws DaemonError: for LevelDB as before (startFailure); for PostgreSQL KEK_MISSING,
 *   KEK_FILE_MODE, BAD_KEK_FILE, KEK_MISMATCH, VAULT_DAMAGED, STORE_UNAVAILABLE (cannot reach
 *   it), STORE_IN_USE (another daemon holds it), STORE_UNSUPPORTED (a newer schema),
 *   STORE_WITHOUT_CA
 */
export async function openDaemonStore<S extends Schema>(config: DaemonConfig, tables: readonly string[], now: number, onWaiting?: () => void): Promise<OpenedStore<S>> {
  if (!config.postgres) {
    // Before the store is opened (which writes to it): a start that refuses changes nothing.
    const keys = await openKeyFiles(config.dataDir, now);
    const { Store } = await import("@tether/store");
    try {
      const store = await Store.open<S>(join(config.dataDir, "store"), tables as (keyof S & string)[]);
      return { store, keys, kind: "level", where: `level:${config.dataDir}`, writerEpoch: 0, schemaVersion: 0 };
    } catch (err) {
      throw startFailure(config.dataDir, err);
    }
  }
  const { url, kekFile } = config.postgres;
  const where = redactStoreUrl(url);
  const kek = readKekFile(kekFile);
  const { PgStore, PgStoreError } = await import("@tether/store-pg");
  let store: import("@tether/store-pg").PgStore<S & VaultTables>;
  try {
    store = await PgStore.open<S & VaultTables>(url, [...tables, VAULT_TABLE, CLUSTER_TABLE] as (keyof (S & VaultTables) & string)[], {
      exclusive: config.postgres.standby ? "wait" : true,
      ...(onWaiting ? { onWaiting } : {}),
      connectTimeoutMs: PG_START_TIMEOUT_MS,
      migrate: config.postgres.upgrade ? "always" : "fresh",
    });
  } catch (err) {
    throw pgOpenFailure(err, where, PgStoreError);
  }
  try {
    const vault = await openVault(store as unknown as Repository<VaultTables>, kek, kekFile);
    // A database with records but no vault would be orphaned by a new CA, as a store without ca/ would.
    let state: string | undefined;
    if (vault.isEmpty()) {
      for (const t of tables) {
        if ((await store.scan(t as keyof S & string, { limit: 1 })).length) {
          state = `the database holds tether records (table ${t})`;
          break;
        }
      }
    }
    const keys = await openKeys({ shared: vault, local: filePlace(join(config.dataDir, "ca")), now, stateElsewhere: () => state });
    return { store, keys, kind: "postgresql", where, writerEpoch: store.writerEpoch, schemaVersion: store.schema.to };
  } catch (err) {
    await store.close().catch(() => {});
    if (err instanceof PgStoreError)
      throw new DaemonError(err.code === "UNAVAILABLE" ? "STORE_UNAVAILABLE" : "STORE_OPEN_FAILED", `cannot use the store ${where}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * `tether ca export-kek`: check that `kekFile` opens the vault of the database at `url` (every
 * item; without taking the writer lock, so a running daemon may hold it), then copy it to
 * `out` (mode 0600; never over an existing file).
 * @throws DaemonError as openDaemonStore, VAULT_EMPTY (no CA in that database yet), KEK_EXISTS
 */
export async function exportKek(url: string, kekFile: string, out: string): Promise<{ kekId: string; items: number; out: string }> {
  const kek = readKekFile(kekFile);
  const where = redactStoreUrl(url);
  const { PgStore, PgStoreError } = await import("@tether/store-pg");
  let store: import("@tether/store-pg").PgStore<VaultTables>;
  try {
    store = await PgStore.open<VaultTables>(url, [VAULT_TABLE], { connectTimeoutMs: PG_START_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof PgStoreError)
      throw new DaemonError(err.code === "UNAVAILABLE" ? "STORE_UNAVAILABLE" : "STORE_OPEN_FAILED", `cannot use the store ${where}: ${err.message}`, { cause: err });
    throw err;
  }
  try {
    const vault = await openVault(store, kek, kekFile);
    if (vault.isEmpty()) throw new DaemonError("VAULT_EMPTY", `${where} holds no CA yet: start the first replica with --kek-file ${kekFile}, which makes it`);
    const items = (await store.list("vault")).length;
    writeKekCopy(kekFile, out);
    return { kekId: kek.id, items, out };
  } finally {
    await store.close().catch(() => {});
  }
}

/**
 * `tether store upgrade`: bring the database's schema up to date (numbered migrations, in one
 * transaction under the migration lock; see @tether/store-pg), and say from which version to
 * which. A daemon may be running on an older schema meanwhile only if it is of a version that
 * knows the new one; the docs say to stop them first.
 * @throws DaemonError STORE_UNAVAILABLE, STORE_UNSUPPORTED (newer than this tether), STORE_OPEN_FAILED
 */
export async function upgradeStore(url: string): Promise<{ store: string; from: number; to: number }> {
  const where = redactStoreUrl(url);
  const { PgStore, PgStoreError } = await import("@tether/store-pg");
  try {
    const store = await PgStore.open(url, [], { connectTimeoutMs: PG_START_TIMEOUT_MS });
    await store.close();
    return { store: where, ...store.schema };
  } catch (err) {
    if (err instanceof PgStoreError) {
      const code = { UNAVAILABLE: "STORE_UNAVAILABLE", UNSUPPORTED: "STORE_UNSUPPORTED" }[err.code as string] ?? "STORE_OPEN_FAILED";
      throw new DaemonError(code, `cannot upgrade the store ${where}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
