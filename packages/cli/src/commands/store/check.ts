/** tether store check: check a stopped daemon's store for damage (offline). */
import { visible } from "@tether/base";
import type { StoreCheck } from "@tether/daemon";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, dataDirOf, emit } from "../../cli.js";

/** Run offline maintenance, with the daemon's errors as exit codes. */
export async function maintenance<T>(fn: (d: typeof import("@tether/daemon")) => Promise<T>): Promise<T> {
  const d = await import("@tether/daemon");
  try {
    return await fn(d);
  } catch (err) {
    if (err instanceof d.DaemonError) {
      const exit = err.code === "DATA_DIR_IN_USE" ? Exit.Busy : err.code === "NO_STORE" ? Exit.NotFound : Exit.Store;
      throw new CliError(exit, err.message, { cause: err });
    }
    throw new CliError(Exit.Failure, (err as Error).message, { cause: err });
  }
}

export function describeCheck(r: StoreCheck): string {
  const lines = [
    `store ${r.dataDir}/store: ${r.ok ? "no problems found" : r.damaged ? "DAMAGED" : "the audit chain is broken"}`,
    `  schema ${r.schema ?? "?"}, ${r.records} records, write #${r.writeSeq ?? "?"}, witness #${r.witness ?? "none"}` +
      (r.audit ? `, audit chain ${r.audit.ok ? `intact (${r.audit.entries} entries)` : `broken at entry ${r.audit.brokenAt}`}` : ""),
    ...r.problems.map((p) => `  - ${visible(p.message)}`),
    ...r.notes.map((n) => `  note: ${visible(n)}`),
  ];
  if (r.damaged) lines.push(`Next: tether store repair --data-dir ${r.dataDir}   (shows what it would do; add --yes to do it)`);
  return `${lines.join("\n")}\n`;
}

export const storeCheckCommand: Command = {
  name: "store check",
  summary: "check a stopped daemon's store for damage (offline)",
  args: [],
  help: `Reads the whole store of a stopped daemon and reports every problem found:
damage LevelDB met while recovering its write-ahead log, confirmed writes that are
missing (the lost-writes witness is ahead of the store), records whose checksum fails,
an audit chain whose head does not match its last entry, and a chain broken mid-way.
It changes no record (LevelDB's own recovery at open may rewrite its log into a table
file, and damage found so is recorded in store/tether-damage.json).

It takes the store's lock, so stop the daemon first. Exits 0 when nothing is wrong,
14 when the store is damaged (the daemon refuses to start on it: see
\`tether store repair\`), 13 when only the audit chain is broken mid-way (as
\`tether audit verify\` would say), 9 when a daemon is running on it, 4 when there
is no store.`,
  examples: ["tether store check --data-dir /var/lib/tether --json"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const dataDir = await dataDirOf(values, io.env);
    const r = await maintenance((d) => d.checkStore(dataDir));
    emit(io, Boolean(values.json), r, () => describeCheck(r));
    return r.damaged ? Exit.Store : r.ok ? Exit.Ok : Exit.Tampered;
  },
};
