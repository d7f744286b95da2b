/** tether store repair: say what a repair of a stopped daemon's store would do; do it with --yes. */
import { visible } from "@tether/base";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, dataDirOf, emit } from "../../cli.js";
import { describeCheck, maintenance } from "./check.js";

export const storeRepairCommand: Command = {
  name: "store repair",
  summary: "repair a stopped daemon's damaged store: show the plan, act with --yes (offline)",
  args: [],
  help: `Checks the store of a stopped daemon as \`tether store check\` does and prints
exactly what a repair would do:
  - drop the records whose checksum fails;
  - accept writes lost from a damaged or cut write-ahead log, and reset the
    lost-writes witness to the store's last write;
  - reset the audit chain's head to its last whole entry;
  - rebuild the job and pending-request indexes at the next start;
  - run LevelDB's own repair when LevelDB cannot open the store at all.
Nothing is changed without --yes. With --yes it does it, records an audit entry
(store.repaired) saying what it dropped and reset, and checks the store again. A
repair never brings lost data back: devices whose records were dropped must pair
again, and jobs that were lost are gone.

Exits 0 when the store is usable afterwards (or nothing needed doing), 14 when a
plan was shown but not carried out (no --yes) or the store is still damaged, 9 when
a daemon is running on it, 4 when there is no store.`,
  examples: ["tether store repair --data-dir /var/lib/tether          # the plan", "tether store repair --data-dir /var/lib/tether --yes    # do it"],
  options: { yes: { type: "boolean", about: "carry the plan out (without it nothing is changed)" }, ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const dataDir = await dataDirOf(values, io.env);
    const apply = Boolean(values.yes);
    const r = await maintenance((d) => d.repairStore(dataDir, { apply }));
    emit(io, Boolean(values.json), r, () => {
      const steps = r.actions.map((a) => `  - ${visible(a.message)}`).join("\n");
      if (r.actions.length === 0) return `${describeCheck(r.before)}nothing to repair\n`;
      if (!r.applied) return `${describeCheck(r.before)}A repair would:\n${steps}\nNothing was changed. Run again with --yes to do it.\n`;
      const after = r.after ? describeCheck(r.after) : "";
      const lost = r.leveldb?.length ? `LevelDB's repair said:\n${r.leveldb.map((l) => `  ${visible(l)}`).join("\n")}\n` : "";
      return `Repaired (audit entry ${r.auditEntry}):\n${steps}\n${lost}Afterwards: ${after}`;
    });
    if (r.actions.length === 0) return r.before.damaged ? Exit.Store : Exit.Ok;
    return r.applied && !r.after?.damaged ? Exit.Ok : Exit.Store;
  },
};
