/** tether devices revoke ID */
import type { Device } from "@tether/wire";
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str, tty } from "../../cli.js";

export const devicesRevokeCommand: Command = {
  name: "devices revoke",
  summary: "revoke a device: end its streams now and refuse it from then on",
  usage: "tether devices revoke ID [--reason TEXT] [--data-dir DIR] [--json]",
  help: `Revokes device ID. The revocation is on disk before this returns; every open
stream of the device is ended with PERMISSION_DENIED, its unfinished jobs fail,
and its certificate is refused from then on. The device cannot pair again until
you run: tether devices unrevoke ID`,
  options: { ...DATA_DIR_OPTION, reason: { type: "string" } },
  async run({ values, positionals, io }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new CliError(Exit.Usage, `give exactly one device id\nusage: ${this.usage}`);
    const d = await admin<Device>(await dataDirOf(values, io.env), "RevokeDevice", { id, reason: str(values.reason) ?? "" });
    const { certificatePem: _p, ...rest } = d;
    emit(io, Boolean(values.json), rest, () => tty`revoked ${d.id} (${d.name})\n`);
    return Exit.Ok;
  },
};
