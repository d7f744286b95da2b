/** tether node renew: renew this device's certificate now, or only when it is due. */
import { NodeError, defaultStateDir, renewIfDue } from "@tether/node";
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, Exit, emit, isoTime, str } from "../../cli.js";

export const nodeRenewCommand: Command = {
  name: "node renew",
  summary: "renew this device's certificate (when past half its lifetime, or now with --force)",
  usage: "tether node renew [--force] [--keep-key] [--state-dir DIR] [--daemon HOST:PORT] [--json]",
  help: `Renews the certificate of the device paired in the state directory, over mutual TLS
with its current certificate, signed by its identity key. By default it makes a new TLS
key and only renews once half of the certificate's lifetime has passed; --force renews
now, --keep-key keeps the current TLS key.

\`tether node run\` renews by itself. Devices that only make calls renew when they are
used (\`tether dispatch --state-dir\` does it first). A device used less often than half
its certificate lifetime (12 hours by default) can run this from a timer, e.g. hourly:
  tether node renew --state-dir /var/lib/tether-orchestrator
An expired certificate cannot renew itself: pair the device again (exit 8).`,
  options: { "state-dir": { type: "string" }, daemon: { type: "string" }, force: { type: "boolean" }, "keep-key": { type: "boolean" } },
  async run({ values, io }) {
    const dir = str(values["state-dir"]) ?? defaultStateDir(io.env);
    let r;
    try {
      r = await renewIfDue(dir, {
        ...(str(values.daemon) ? { daemon: str(values.daemon) as string } : {}),
        ...(values.force ? { force: true } : {}),
        ...(values["keep-key"] ? { rekey: false } : {}),
      });
    } catch (err) {
      if (!(err instanceof NodeError)) throw err;
      const exit = err.code === "STATE_DIR" ? Exit.Usage : err.code === "UNREACHABLE" ? Exit.Unreachable : Exit.AuthFailed;
      throw new CliError(exit, err.message, { cause: err });
    }
    const out = r ? { renewed: true, notAfter: isoTime(r.notAfter), fingerprint: r.fingerprint } : { renewed: false };
    emit(io, Boolean(values.json), out, () =>
      r ? `renewed: certificate ${r.fingerprint} valid until ${isoTime(r.notAfter)}\n` : "not due yet (less than half of the certificate's lifetime has passed); use --force to renew now\n",
    );
    return Exit.Ok;
  },
};
