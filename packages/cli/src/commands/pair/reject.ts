/** tether pair reject: refuse a pending request. */
import type { PairRequest } from "@tether/wire";
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str, tty } from "../../cli.js";

export const pairRejectCommand: Command = {
  name: "pair reject",
  summary: "reject a pending pairing request",
  usage: "tether pair reject ID [--reason TEXT] [--data-dir DIR] [--json]",
  help: `Rejects request ID. The waiting node is told at once and exits non-zero.
Reject any request whose verification code does not match the node's.`,
  options: { ...DATA_DIR_OPTION, reason: { type: "string" } },
  async run({ values, positionals, io }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new CliError(Exit.Usage, `give exactly one request id\nusage: ${this.usage}`);
    const r = await admin<PairRequest>(await dataDirOf(values, io.env), "RejectRequest", { id, reason: str(values.reason) ?? "" });
    emit(io, Boolean(values.json), r, () => tty`rejected ${r.id} (device ${r.deviceId}, ${r.name})\n`);
    return Exit.Ok;
  },
};
