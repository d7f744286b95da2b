/** tether pair list: pairing requests and their verification codes. */
import type { PairRequest } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, OUTPUT_OPTION, admin, dataDirOf, emit, isoTime, str, table } from "../../cli.js";

export const pairListCommand: Command = {
  name: "pair list",
  summary: "list pairing requests with their verification codes",
  args: [],
  help: `Lists pairing requests, oldest first.

Before approving, compare the VERIFY column with the code the node printed.
They match only if the node and this daemon ran the handshake with each other;
a mismatch means someone is in the middle: reject the request.
A "pending (return)" is a paired device back after its certificate expired, past
the daemon's --return-grace: it proved its identity key; its code is computed
from its signed request (docs/fleet.md, 5A.5).

Then: tether pair approve --code CODE (the node's code; the daemon checks it)
  or  tether pair approve ID --code CODE [--role node|orchestrator]
  or  tether pair reject ID

-o wide adds the pairing method, when the request was made and decided, the whole
key fingerprint and the reject reason.`,
  examples: ["tether pair list --state pending", "tether pair list -o wide"],
  options: {
    state: { type: "string", choices: ["pending", "approved", "rejected", "expired"], about: "only the requests in this state", default: "every state" },
    ...OUTPUT_OPTION,
    ...DATA_DIR_OPTION,
  },
  async run({ values, io }) {
    const state = str(values.state) ?? "";
    const { requests } = await admin<{ requests: PairRequest[] }>(await dataDirOf(values, io.env), "ListRequests", { state });
    const wide = values.output === "wide";
    emit(io, Boolean(values.json), requests, () =>
      requests.length === 0
        ? `no ${state || ""} pairing requests\n`.replace("  ", " ")
        : table(
            ["ID", "STATE", "DEVICE", "NAME", "ROLE", "KEY FINGERPRINT", "VERIFY", "EXPIRES", ...(wide ? ["METHOD", "CREATED", "DECIDED", "REASON"] : [])],
            requests.map((r) => [
              r.id,
              r.method === "return" ? `${r.state} (return)` : r.state,
              r.deviceId,
              r.name,
              r.role || r.requestedRole,
              wide ? r.keyFingerprint : r.keyFingerprint.slice(0, 16),
              r.verificationCode,
              r.state === "pending" ? isoTime(r.expiresAt) : "-",
              ...(wide ? [r.method, isoTime(r.createdAt), isoTime(r.decidedAt), r.reason || "-"] : []),
            ]),
          ),
    );
    return Exit.Ok;
  },
};
