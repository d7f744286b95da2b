/** tether pair list: pairing requests and their verification codes. */
import type { PairRequest } from "@tether/wire";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime, str, table } from "../../cli.js";

export const pairListCommand: Command = {
  name: "pair list",
  summary: "list pairing requests with their verification codes",
  usage: "tether pair list [--state pending|approved|rejected|expired] [--data-dir DIR] [--json]",
  help: `Lists pairing requests, oldest first.

Before approving, compare the VERIFY column with the code the node printed.
They match only if the node and this daemon ran the handshake with each other;
a mismatch means someone is in the middle: reject the request.

Then: tether pair approve --code CODE (the node's code; the daemon checks it)
  or  tether pair approve ID --code CODE [--role node|orchestrator]
  or  tether pair reject ID`,
  options: { ...DATA_DIR_OPTION, state: { type: "string" } },
  async run({ values, io }) {
    const state = str(values.state) ?? "";
    if (state && !["pending", "approved", "rejected", "expired"].includes(state)) {
      throw new CliError(Exit.Usage, "--state must be pending, approved, rejected or expired");
    }
    const { requests } = await admin<{ requests: PairRequest[] }>(await dataDirOf(values, io.env), "ListRequests", { state });
    emit(io, Boolean(values.json), requests, () =>
      requests.length === 0
        ? `no ${state || ""} pairing requests\n`.replace("  ", " ")
        : table(
            ["ID", "STATE", "DEVICE", "NAME", "ROLE", "KEY FINGERPRINT", "VERIFY", "EXPIRES"],
            requests.map((r) => [r.id, r.state, r.deviceId, r.name, r.role || r.requestedRole, r.keyFingerprint.slice(0, 16), r.verificationCode, r.state === "pending" ? isoTime(r.expiresAt) : "-"]),
          ),
    );
    return Exit.Ok;
  },
};
