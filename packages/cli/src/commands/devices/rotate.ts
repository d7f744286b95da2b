/** tether devices rotate ID */
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit } from "../../cli.js";

export const devicesRotateCommand: Command = {
  name: "devices rotate",
  summary: "make a device renew its certificate (now if connected, else at its next contact)",
  usage: "tether devices rotate ID [--data-dir DIR] [--json]",
  help: `Asks device ID to renew its certificate with a new TLS key. A connected device is
told at once over its stream and renews within seconds; one that is offline is told
when it next connects, so it is never stranded. Its previous certificate keeps working
for a 2-minute overlap after the renewal, then is refused. See its new certificate with
tether devices show ID.`,
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new CliError(Exit.Usage, `give exactly one device id\nusage: ${this.usage}`);
    const r = await admin<{ sentNow: boolean }>(await dataDirOf(values, io.env), "RotateDevice", { id });
    emit(io, Boolean(values.json), { id, sentNow: r.sentNow }, () =>
      r.sentNow ? `${id} is connected and was told to renew now\n` : `${id} is offline; it will renew when it next connects\n`,
    );
    return Exit.Ok;
  },
};
