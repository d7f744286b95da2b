/** tether ca new-kek, tether ca export-kek: the key-encryption key of replicas on one PostgreSQL. */
import type { Command } from "../../cli.js";
import { CliError, Exit, emit, str } from "../../cli.js";

export const caNewKekCommand: Command = {
  name: "ca new-kek",
  summary: "make a key-encryption key for daemons on a shared PostgreSQL store",
  args: [{ name: "FILE", about: "where to write it (mode 0600; it must not exist)", complete: "files" }],
  help: `Writes a new random 256-bit key-encryption key (KEK) to FILE, mode 0600, and prints
its id (a hash of it; the key itself is never printed). A daemon on a PostgreSQL store
(tether daemon --store postgresql://... --kek-file FILE) keeps the CA, token, seal and
signer keys in the database sealed under this key: the database alone, or a dump of
it, holds no usable key. The first daemon on an empty database makes the CA there.

Every daemon on the same database needs the same KEK: copy it to a new replica's
machine with tether ca export-kek (which first checks that it opens the database's
keys), then scp, or your secret manager. Keep a copy outside the database's backups:
without it the CA cannot be unsealed. It refuses (exit 5) when FILE exists.`,
  examples: ["tether ca new-kek /etc/tether/kek.json   # then: tether daemon --store postgresql:///tether?host=/run/postgresql --kek-file /etc/tether/kek.json"],
  options: {},
  async run({ positionals, values, io }) {
    const d = await import("@tether/daemon");
    const file = positionals[0] as string;
    let r;
    try {
      r = d.writeNewKek(file);
    } catch (err) {
      if (err instanceof d.DaemonError) throw new CliError(err.code === "KEK_EXISTS" ? Exit.Conflict : Exit.Failure, err.message, { cause: err });
      throw err;
    }
    emit(
      io,
      Boolean(values.json),
      { file, kekId: r.id },
      () => `wrote a new key-encryption key to ${file} (mode 0600)\n  KEK id: ${r.id}\nKeep a copy outside the database's backups.\n`,
    );
    return Exit.Ok;
  },
};

export const caExportKekCommand: Command = {
  name: "ca export-kek",
  summary: "check a key-encryption key against the database, and copy it for a new replica",
  args: [],
  help: `Opens the key vault of the PostgreSQL database --store names with the KEK in
--kek-file (every sealed item must open; a running daemon may hold the database), then
copies the key to --out (mode 0600; never over a file). Give that copy to the new
replica's machine by a private channel (scp, a secret manager) and start it with the
same --store and --kek-file pointing at it. It prints the key's id, never the key.

Exit 1 with the reason when the KEK is not the one the database's keys are sealed under
(its id and theirs are named), 3 when the database cannot be reached, 5 when --out exists.`,
  examples: ["tether ca export-kek --store postgresql:///tether?host=/run/postgresql --kek-file /etc/tether/kek.json --out /tmp/kek-for-replica-2.json"],
  options: {
    store: { type: "string", value: "postgresql://...", about: "the database the replicas share", required: true },
    "kek-file": { type: "string", value: "FILE", about: "the key-encryption key the replicas use", required: true, complete: "files" },
    out: { type: "string", value: "FILE", about: "where to write the copy (mode 0600; it must not exist)", required: true, complete: "files" },
  },
  async run({ values, io }) {
    const d = await import("@tether/daemon");
    let r;
    try {
      const cfg = d.resolveDaemonConfig({ store: str(values.store) as string, kekFile: str(values["kek-file"]) as string });
      if (!cfg.postgres) throw new CliError(Exit.Usage, `--store must be a PostgreSQL URL (postgresql://...), got a LevelDB store`);
      r = await d.exportKek(cfg.postgres.url, cfg.postgres.kekFile, str(values.out) as string);
    } catch (err) {
      if (err instanceof d.DaemonError) {
        const exit = err.code === "BAD_STORE" ? Exit.Usage : err.code === "STORE_UNAVAILABLE" ? Exit.Unreachable : err.code === "KEK_EXISTS" ? Exit.Conflict : Exit.Failure;
        throw new CliError(exit, err.message, { cause: err });
      }
      throw err;
    }
    emit(io, Boolean(values.json), r, () => `the KEK ${r.kekId} opens the database's ${r.items} sealed keys; copied to ${r.out} (mode 0600)\n`);
    return Exit.Ok;
  },
};
