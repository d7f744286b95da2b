/** tether devices unrevoke ID */
import type { Device } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit } from "../../cli.js";

export const devicesUnrevokeCommand: Command = {
  name: "devices unrevoke",
  summary: "clear a revocation so the device may pair again",
  args: [{ name: "ID", about: "the device id (dev_…, from tether devices list)", complete: "revoked" }],
  help: `Clears the revocation of device ID so that it can pair again with a new code.
Its old certificate stays refused: only a new pairing gives it a working one.`,
  examples: ["tether devices unrevoke dev_4bzq3hh3tg2l6xyndziosfoxjw"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const d = await admin<Device>(await dataDirOf(values, io.env), "ClearRevocation", { id });
    const { certificatePem: _p, ...rest } = d;
    emit(io, Boolean(values.json), rest, () => `revocation of ${d.id} cleared; it may pair again\n`);
    return Exit.Ok;
  },
};
