/** tether status: is the daemon up, and where; is its store healthy. */
import { visible } from "@tether/base";
import type { StatusResponse } from "@tether/wire";
import type { Command } from "../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime } from "../cli.js";

function storeLine(s: StatusResponse): string {
  if (s.storeState === "ok" || !s.storeState) return "ok";
  if (s.storeState === "failed")
    return `FAILED since ${isoTime(s.storeSince)}: ${s.storeError}\n                  every other call is refused until the daemon is restarted (free space or fix the disk first)`;
  if (s.storeState === "damaged") return `DAMAGED: ${s.storeError}`;
  // a state this CLI does not know (the wire says string): shown, never as "ok", and the
  // exit code is Store as for any state but ok
  return `${s.storeState}: ${s.storeError}`;
}

export const statusCommand: Command = {
  name: "status",
  summary: "show the running daemon's address, CA fingerprint, data directory and store health",
  args: [],
  help: `Asks the daemon over its admin socket how it is running.

Exits 0 when it runs and its store is healthy, 3 when no daemon answers on that data
directory, and 14 when its store has failed a write (the daemon then refuses every
other call with UNAVAILABLE until it is restarted: free space or fix the disk, then
restart it) or a read found a damaged record (stop it and run \`tether store check\`).`,
  examples: ["tether status --data-dir /var/lib/tether --json"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const s = await admin<StatusResponse>(await dataDirOf(values, io.env), "Status", {});
    emit(
      io,
      Boolean(values.json),
      s,
      () =>
        `daemon ${s.version} up since ${isoTime(s.startedAt)}\n  listen:         ${s.listen}\n  advertise:      ${s.advertise}\n  CA fingerprint: ${s.caFingerprint}\n  data dir:       ${s.dataDir}\n` +
        (s.store?.startsWith("postgresql") || s.store?.startsWith("postgres:")
          ? `  database:       ${visible(s.store)} (schema ${s.schemaVersion}; the active daemon, writer epoch ${s.writerEpoch})\n`
          : "") +
        `  store:          ${storeLine(s)}\n`,
    );
    return s.storeState === "ok" || !s.storeState ? Exit.Ok : Exit.Store;
  },
};
