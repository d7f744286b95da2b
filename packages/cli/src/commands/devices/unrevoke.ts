/** tether devices unrevoke ID */
import type { Device } from "@tether/wire";
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit } from "../../cli.js";

export const devicesUnrevokeCommand: Command = {
  name: "devices unrevoke",
  summary: "clear a revocation so the device may pair again",
  usage: "tether devices unrevoke ID [--data-dir DIR] [--json]",
  help: `Clears the revocation of device ID so that it can pair again with a new code.
Its old certificate stays refused: only a new pairing gives it a working one.`,
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new CliError(Exit.Usage, `give exactly one device id\nusage: ${this.usage}`);
    const d = await admin<Device>(await dataDirOf(values, io.env), "ClearRevocation", { id });
    const { certificatePem: _p, ...rest } = d;
    emit(io, Boolean(values.json), rest, () => `revocation of ${d.id} cleared; it may pair again\n`);
    return Exit.Ok;
  },
};
