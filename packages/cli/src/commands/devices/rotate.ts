/** tether devices rotate ID */
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime } from "../../cli.js";

export const devicesRotateCommand: Command = {
  name: "devices rotate",
  summary: "make a device renew its certificate (now if connected, else at its next connection or call)",
  args: [{ name: "ID", about: "the device id (dev_…, from tether devices list)", complete: "devices" }],
  help: `Asks device ID to renew its certificate with a new TLS key. A connected node is
told at once over its stream and renews within seconds. Any other device is told in the
answer to its next call (an orchestrator: its next dispatch or jobs command; a timer
running tether node renew: its next run) or when it next connects, so it is never
stranded. Until then tether devices show ID says "rotation: pending since TIME". Its
previous certificate keeps working for a 2-minute overlap after the renewal, then is
refused.`,
  examples: ["tether devices rotate dev_4bzq3hh3tg2l6xyndziosfoxjw --json"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const r = await admin<{ sentNow: boolean; requestedAt: number }>(await dataDirOf(values, io.env), "RotateDevice", { id });
    emit(io, Boolean(values.json), { id, sentNow: r.sentNow, requestedAt: isoTime(r.requestedAt) }, () =>
      r.sentNow
        ? `${id} is connected and was told to renew now\n`
        : `${id} has no open stream; it will renew at its next call or connection (rotation pending since ${isoTime(r.requestedAt)})\n`,
    );
    return Exit.Ok;
  },
};
