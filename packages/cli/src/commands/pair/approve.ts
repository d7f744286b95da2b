/** tether pair approve: approve a pending request and issue the node's certificate. */
import type { PairRequest } from "@tether/wire";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str, tty } from "../../cli.js";

export const pairApproveCommand: Command = {
  name: "pair approve",
  summary: "approve a pending pairing request; the daemon issues the certificate",
  usage: "tether pair approve ID [--role node|orchestrator] [--data-dir DIR] [--json]",
  help: `Approves request ID (see \`tether pair list\`) after you have checked that its
verification code matches the one the node printed. The daemon's CA issues a
certificate bound to the node's TLS key; the waiting node receives it at once.

  --role ROLE   grant this role instead of the one the node asked for

Approving a request twice, or one that is rejected or expired, fails (exit 5)
and issues nothing.`,
  options: { ...DATA_DIR_OPTION, role: { type: "string" } },
  async run({ values, positionals, io }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new CliError(Exit.Usage, `give exactly one request id\nusage: ${this.usage}`);
    const role = str(values.role) ?? "";
    if (role && role !== "node" && role !== "orchestrator") throw new CliError(Exit.Usage, "--role must be node or orchestrator");
    const r = await admin<PairRequest>(await dataDirOf(values, io.env), "ApproveRequest", { id, role });
    emit(io, Boolean(values.json), r, () => tty`approved ${r.id}: device ${r.deviceId} (${r.name}) as ${r.role}\n  certificate sha256: ${r.certificateFingerprint}\n`);
    return Exit.Ok;
  },
};
