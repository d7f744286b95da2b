/** tether devices rotate ID */
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit } from "../../cli.js";

export const devicesRotateCommand: Command = {
  name: "devices rotate",
  summary: "make a device renew its certificate (now if connected, else at its next contact)",
  args: [{ name: "ID", about: "the device id (dev_…, from tether devices list)", complete: "devices" }],
  help: `Asks device ID to renew its certificate with a new TLS key. A connected device is
told at once over its stream and renews within seconds; one that is offline is told
when it next connects, so it is never stranded. Its previous certificate keeps working
for a 2-minute overlap after the renewal, then is refused. See its new certificate with
tether devices show ID.`,
  examples: ["tether devices rotate dev_4bzq3hh3tg2l6xyndziosfoxjw --json"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const r = await admin<{ sentNow: boolean }>(await dataDirOf(values, io.env), "RotateDevice", { id });
    emit(io, Boolean(values.json), { id, sentNow: r.sentNow }, () =>
      r.sentNow ? `${id} is connected and was told to renew now\n` : `${id} is offline; it will renew when it next connects\n`,
    );
    return Exit.Ok;
  },
};
