/** tether devices return-policy ID approve|auto */
import type { Device } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit } from "../../cli.js";

export const devicesReturnPolicyCommand: Command = {
  name: "devices return-policy",
  summary: "whether the device's returns after its certificate expired wait for an admin",
  args: [
    { name: "ID", about: "the device id (dev_…, from tether devices list)", complete: "devices" },
    { name: "POLICY", about: "how its returns are decided", choices: ["approve", "auto"] },
  ],
  help: `A device whose certificate expired comes back by proving its identity
key (tether node run and tether node renew do it by themselves; docs/fleet.md,
5A.5). Within the daemon's --return-grace of the expiry (30 days by default) it
gets a new certificate at once; later, its return waits as a pending request
(tether pair list, method return) that an admin approves or rejects, comparing
the verification code the device shows.

approve makes every return of this device wait for an admin, however soon it
comes back (a device that should never be off unnoticed); auto goes back to the
grace. A revoked device never returns this way. The change is audited.`,
  examples: ["tether devices return-policy dev_4bzq3hh3tg2l6xyndziosfoxjw approve", "tether devices return-policy dev_4bzq3hh3tg2l6xyndziosfoxjw auto --json"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const [id, policy] = positionals as [string, string];
    const d = await admin<Device>(await dataDirOf(values, io.env), "SetReturnPolicy", { id, needsApproval: policy === "approve" });
    const { certificatePem: _p, ...rest } = d;
    emit(io, Boolean(values.json), rest, () =>
      d.returnNeedsApproval ? `${d.id}: its returns after expiry wait for an admin\n` : `${d.id}: within the return grace it returns by itself\n`,
    );
    return Exit.Ok;
  },
};
