/** tether audit verify: check the audit log's hash chain, and that it still holds a kept head. */
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str } from "../../cli.js";

type Result = { ok: boolean; entries: number; head: string; brokenAt: number; reason: string; gaps: { at: number; reason: string; acceptedBy: number }[] };

export const auditVerifyCommand: Command = {
  name: "audit verify",
  summary: "check the audit log's hash chain and say where it breaks",
  args: [],
  help: `Recomputes every entry's hash and its link to the previous entry. Exits 0 when
the chain is whole, 13 when an entry was changed, removed or reordered, naming the
first bad entry. Keep the printed head hash somewhere else: someone who can write
the store can rebuild the chain from an entry on, and only a kept head shows it.

Entries lost from the middle of a damaged store cannot come back; once
\`tether store repair --yes\` has accepted such a break, verify exits 0 and lists
it ("accepted break before entry N"), every time.`,
  examples: ["tether audit verify --json", 'tether audit verify --head "$(cat /safe/place/audit-head)"   # kept from an earlier verify'],
  options: {
    head: {
      type: "string",
      value: "HASH",
      about: "a head hash printed by an earlier verify: exit 13 unless the chain\nstill contains it (nothing up to it was rewritten)",
      default: "none",
    },
    ...DATA_DIR_OPTION,
  },
  async run({ values, io }) {
    const head = str(values.head);
    if (head !== undefined && !/^[0-9a-f]{64}$/.test(head)) throw new CliError(Exit.Usage, "--head must be 64 lowercase hex digits (a head hash printed by audit verify)");
    const r = await admin<Result>(await dataDirOf(values, io.env), "VerifyAudit", { head: head ?? "" });
    emit(io, Boolean(values.json), r, () => {
      const gaps = (r.gaps ?? []).map((g) => `  accepted break before entry ${g.at} (${g.reason}), by the store repair at entry ${g.acceptedBy}\n`).join("");
      if (r.ok)
        return `audit chain intact${gaps ? " but for the breaks a store repair accepted" : ""}: ${r.entries} entries, head ${r.head}${head ? `; it contains the kept head ${head}` : ""}\n${gaps}`;
      return r.brokenAt ? `audit chain BROKEN at entry ${r.brokenAt}: ${r.reason}\n` : `audit chain BROKEN: ${r.reason}\n`;
    });
    return r.ok ? Exit.Ok : Exit.Tampered;
  },
};
