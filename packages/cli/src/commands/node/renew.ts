/** tether node renew: renew this device's certificate now, or only when it is due. */
import { NodeError, defaultStateDir, renewIfDue } from "@tether/node";
import type { Command } from "../../cli.js";
import { CliError, DAEMON_ADDRESS_OPTION, Exit, NODE_STATE_DIR_OPTION, emit, isoTime, str } from "../../cli.js";

export const nodeRenewCommand: Command = {
  name: "node renew",
  summary: "renew this device's certificate (when past half its lifetime, or now with --force)",
  args: [],
  help: `Renews the certificate of the device paired in the state directory, over mutual TLS
with its current certificate, signed by its identity key. By default it makes a new TLS
key and only renews once half of the certificate's lifetime has passed.

\`tether node run\` renews by itself. Devices that only make calls renew when they are
used (\`tether dispatch --state-dir\` does it first). A device used less often than half
its certificate lifetime (12 hours by default) can run this from a timer, e.g. hourly.
An expired certificate cannot renew itself: pair the device again (exit 8).`,
  examples: ["tether node renew --state-dir /var/lib/tether-orchestrator   # hourly, from a timer", "tether node renew --force --json"],
  options: {
    force: { type: "boolean", about: "renew now, even before half the lifetime has passed" },
    "keep-key": { type: "boolean", about: "keep the current TLS key instead of making a new one" },
    ...NODE_STATE_DIR_OPTION,
    ...DAEMON_ADDRESS_OPTION,
  },
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
