/** tether devices revoke ID */
import type { Device } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str, tty } from "../../cli.js";

export const devicesRevokeCommand: Command = {
  name: "devices revoke",
  summary: "revoke a device: end its streams now and refuse it from then on",
  args: [{ name: "ID", about: "the device id (dev_…, from tether devices list)", complete: "devices" }],
  help: `Revokes device ID. Its open streams end with PERMISSION_DENIED and its
certificate is refused first, at once; the revocation is on disk and its unfinished
jobs have failed before this returns. The CRL that lists it (for peers and other
services, tether ca crl) is signed and pushed to every node right after the answer;
--wait-crl waits for that too. The device cannot pair again (nor return after its
certificate expires) until you run: tether devices unrevoke ID`,
  examples: ['tether devices revoke dev_4bzq3hh3tg2l6xyndziosfoxjw --reason "laptop stolen"'],
  options: {
    reason: { type: "string", value: "TEXT", about: "why, kept with the revocation and in the audit log", default: "none" },
    "wait-crl": { type: "boolean", about: "answer only once the CRL that lists the device is signed and pushed" },
    ...DATA_DIR_OPTION,
  },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const d = await admin<Device>(await dataDirOf(values, io.env), "RevokeDevice", { id, reason: str(values.reason) ?? "", waitCrl: Boolean(values["wait-crl"]) });
    const { certificatePem: _p, ...rest } = d;
    emit(io, Boolean(values.json), rest, () => tty`revoked ${d.id} (${d.name})${d.crlPending ? "; the CRL listing it follows in a moment" : "; the CRL lists it"}\n`);
    return Exit.Ok;
  },
};
