/** tether audit verify: check the audit log's hash chain. */
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit } from "../../cli.js";

type Result = { ok: boolean; entries: number; head: string; brokenAt: number; reason: string };

export const auditVerifyCommand: Command = {
  name: "audit verify",
  summary: "check the audit log's hash chain and say where it breaks",
  usage: "tether audit verify [--data-dir DIR] [--json]",
  help: `Recomputes every entry's hash and its link to the previous entry. Exits 0 when
the chain is whole, 13 when an entry was changed, removed or reordered, naming the
first bad entry. Keep the printed head hash somewhere else: a later verify whose
chain still contains it shows that nothing before it was rewritten.`,
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const r = await admin<Result>(await dataDirOf(values, io.env), "VerifyAudit", {});
    emit(io, Boolean(values.json), r, () =>
      r.ok ? `audit chain intact: ${r.entries} entries, head ${r.head}\n` : `audit chain BROKEN at entry ${r.brokenAt}: ${r.reason}\n`,
    );
    return r.ok ? Exit.Ok : Exit.Tampered;
  },
};
