/** tether store migrate, tether store upgrade: moving to, and keeping up, a PostgreSQL store. */
import type { Command } from "../../cli.js";
import { CliError, Exit, emit, str } from "../../cli.js";

type Daemon = typeof import("@tether/daemon");

/** A refusal's exit code: 2 bad arguments, 3 the database unreachable, 9 in use, 5 a non-empty target, 14 the store's state, 1 the rest. */
function exitOf(d: Daemon, err: unknown): never {
  if (!(err instanceof d.DaemonError)) throw err;
  const byCode: Record<string, number> = {
    BAD_STORE: Exit.Usage,
    STORE_UNAVAILABLE: Exit.Unreachable,
    STORE_IN_USE: Exit.Busy,
    DATA_DIR_IN_USE: Exit.Busy,
    TARGET_NOT_EMPTY: Exit.Conflict,
    STORE_DAMAGED: Exit.Store,
    STORE_UNSUPPORTED: Exit.Store,
    AUDIT_BROKEN: Exit.Tampered,
  };
  throw new CliError(byCode[err.code] ?? Exit.Failure, err.message, { cause: err });
}

/** --from level:DIR / --to postgresql://..., checked as the daemon checks --store. */
function storeArg(d: Daemon, value: string | undefined, flag: string, want: "level" | "postgresql"): string {
  let choice;
  try {
    choice = d.parseStore(value as string, flag);
  } catch (err) {
    exitOf(d, err);
  }
  if (choice.kind !== want)
    throw new CliError(Exit.Usage, `${flag} must be ${want === "level" ? "level:DIR (an embedded install's data directory)" : "a PostgreSQL URL (postgresql://...)"}`);
  return choice.kind === "level" ? choice.dataDir : choice.url;
}

export const storeMigrateCommand: Command = {
  name: "store migrate",
  summary: "move an embedded (LevelDB) install to a PostgreSQL database",
  args: [],
  help: `Copies every record of a stopped daemon's embedded store (--from level:DIR, its data
directory) into an empty PostgreSQL database (--to), then verifies the move: each table's
count, and the audit chain (its entries and head hash) on the target. Last, it seals the
CA, token, seal and signer keys of DIR/ca into the database under --kek-file's key: that
is the commit point. A daemon refuses a database with records and no keys, so a move cut
short (a crash, a lost connection) cannot be started on; run migrate again, which clears
what the unfinished move left and starts over.

The source is not changed: to roll back, start the embedded daemon on DIR again. Each
replica makes its own server certificate at its first start. Stop the daemon first (the
store's lock is taken; exit 9 if it runs); make the KEK with tether ca new-kek.

Exit codes: 0 moved and verified, 2 bad arguments, 3 the database cannot be reached,
5 the database is not empty, 9 a daemon holds the source or the target, 13 the source's
audit chain is broken, 14 the source store is damaged, 1 otherwise (the message says).`,
  examples: [
    "tether ca new-kek /etc/tether/kek.json",
    "tether store migrate --from level:/var/lib/tether --to postgresql:///tether?host=/run/postgresql --kek-file /etc/tether/kek.json",
  ],
  options: {
    from: { type: "string", value: "level:DIR", about: "the stopped embedded install: its data directory", required: true, complete: "files" },
    to: { type: "string", value: "postgresql://...", about: "the empty database to move it to (a libpq URL)", required: true },
    "kek-file": { type: "string", value: "FILE", about: "the key-encryption key to seal the CA under (tether ca new-kek)", required: true, complete: "files" },
  },
  async run({ values, io }) {
    const d = await import("@tether/daemon");
    const from = storeArg(d, str(values.from), "--from", "level");
    const to = storeArg(d, str(values.to), "--to", "postgresql");
    let r;
    try {
      const cfg = d.resolveDaemonConfig({ store: to, kekFile: str(values["kek-file"]) as string });
      r = await d.migrateStore(from, to, (cfg.postgres as { kekFile: string }).kekFile);
    } catch (err) {
      exitOf(d, err);
    }
    emit(io, Boolean(values.json), r, () =>
      [
        `moved ${r.records} records from ${r.from} to ${r.to}, verified:`,
        ...Object.entries(r.tables).map(([t, n]) => `  ${t.padEnd(20)} ${n}`),
        `  audit chain: ${r.audit.entries} entries, head ${r.audit.head}`,
        `  CA ${r.caFingerprint}, sealed under KEK ${r.kekId}`,
        ...(r.clearedUnfinished ? [`  (first cleared ${r.clearedUnfinished} records an unfinished earlier migrate left)`] : []),
        `Next: tether daemon --store '${r.to}' --kek-file ${str(values["kek-file"])} --data-dir DIR`,
        "",
      ].join("\n"),
    );
    return Exit.Ok;
  },
};

export const storeUpgradeCommand: Command = {
  name: "store upgrade",
  summary: "bring a PostgreSQL store's schema up to this tether's version",
  args: [],
  help: `Runs the numbered schema migrations the database at --store does not have yet, in one
transaction under a lock (several at once migrate once), and says from which version to
which. A database newer than this tether is refused (exit 14): run a tether at least as
new. A daemon does this at start only when given --upgrade-store; otherwise it refuses an
older schema (exit 14) so that an upgrade is a step you take. Back the database up first.`,
  examples: ["tether store upgrade --store postgresql:///tether?host=/run/postgresql"],
  options: {
    store: { type: "string", value: "postgresql://...", about: "the database (a libpq URL)", required: true },
  },
  async run({ values, io }) {
    const d = await import("@tether/daemon");
    const url = storeArg(d, str(values.store), "--store", "postgresql");
    let r;
    try {
      r = await d.upgradeStore(url);
    } catch (err) {
      exitOf(d, err);
    }
    emit(io, Boolean(values.json), r, () =>
      r.from === r.to ? `${r.store}: schema version ${r.to}, up to date\n` : `${r.store}: schema upgraded from version ${r.from} to ${r.to}\n`,
    );
    return Exit.Ok;
  },
};
