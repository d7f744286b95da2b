/** tether pair reject: refuse a pending request. */
import type { PairRequest } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str, tty } from "../../cli.js";

export const pairRejectCommand: Command = {
  name: "pair reject",
  summary: "reject a pending pairing request",
  args: [{ name: "ID", about: "the request id (req_…, from tether pair list)", complete: "requests" }],
  help: `Rejects request ID. The waiting node is told at once and exits non-zero.
Reject any request whose verification code does not match the node's.`,
  examples: ['tether pair reject req_e838ee29fd629909da570593 --reason "verification code did not match"'],
  options: { reason: { type: "string", value: "TEXT", about: "why, for the node and the audit log", default: "none" }, ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const r = await admin<PairRequest>(await dataDirOf(values, io.env), "RejectRequest", { id, reason: str(values.reason) ?? "" });
    emit(io, Boolean(values.json), r, () => tty`rejected ${r.id} (device ${r.deviceId}, ${r.name})\n`);
    return Exit.Ok;
  },
};
