/** tether status: is the daemon up, and where. */
import type { StatusResponse } from "@tether/wire";
import type { Command } from "../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime } from "../cli.js";

export const statusCommand: Command = {
  name: "status",
  summary: "show the running daemon's address, CA fingerprint and data directory",
  usage: "tether status [--data-dir DIR] [--json]",
  help: `Asks the daemon over its admin socket how it is running.
Exits 3 when no daemon answers on that data directory.`,
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const s = await admin<StatusResponse>(await dataDirOf(values, io.env), "Status", {});
    emit(io, Boolean(values.json), s, () =>
      `daemon ${s.version} up since ${isoTime(s.startedAt)}\n  listen:         ${s.listen}\n  advertise:      ${s.advertise}\n  CA fingerprint: ${s.caFingerprint}\n  data dir:       ${s.dataDir}\n`,
    );
    return Exit.Ok;
  },
};
