/** tether devices revoke ID */
import type { Device } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str, tty } from "../../cli.js";

export const devicesRevokeCommand: Command = {
  name: "devices revoke",
  summary: "revoke a device: end its streams now and refuse it from then on",
  args: [{ name: "ID", about: "the device id (dev_…, from tether devices list)", complete: "devices" }],
  help: `Revokes device ID. The revocation is on disk before this returns; every open
stream of the device is ended with PERMISSION_DENIED, its unfinished jobs fail,
and its certificate is refused from then on. The device cannot pair again until
you run: tether devices unrevoke ID`,
  examples: ['tether devices revoke dev_4bzq3hh3tg2l6xyndziosfoxjw --reason "laptop stolen"'],
  options: { reason: { type: "string", value: "TEXT", about: "why, kept with the revocation and in the audit log", default: "none" }, ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const d = await admin<Device>(await dataDirOf(values, io.env), "RevokeDevice", { id, reason: str(values.reason) ?? "" });
    const { certificatePem: _p, ...rest } = d;
    emit(io, Boolean(values.json), rest, () => tty`revoked ${d.id} (${d.name})\n`);
    return Exit.Ok;
  },
};
