/** tether ca init: make the daemon's root CA and keys in an empty data directory, on purpose. */
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, dataDirOf, emit, isoTime } from "../../cli.js";

export const caInitCommand: Command = {
  name: "ca init",
  summary: "create the daemon's root CA and keys in an empty data directory",
  args: [],
  help: `Creates, in DIR/ca/ (mode 0700), a new root CA (ca.pem, and its private key ca.key),
the key that signs device tokens (token.key) and the key that seals pairing codes in
the store (seal.key), all at once: a crash leaves all four or none. It does not start
the daemon or open the store; the daemon issues its server and signer certificates
from this CA when it starts.

The daemon does the same by itself on its first start in an empty data directory, and
never again: once a data directory has a CA, or a store, a missing or broken key file
stops the daemon with a message naming the file (restore it from a backup). Use this
command to make the CA ahead of time, e.g. to back it up before any device pairs.

It refuses (exit 5, nothing changed) when DIR/ca/ or DIR/store/ has anything in it.
Back up DIR/ca/ somewhere as private as the key itself: ca.key is not encrypted.`,
  examples: ["tether ca init --data-dir /var/lib/tether   # then back up /var/lib/tether/ca and start the daemon"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const d = await import("@tether/daemon");
    let dataDir: string;
    try {
      dataDir = d.resolveDaemonConfig({ dataDir: await dataDirOf(values, io.env) }).dataDir; // the daemon's own path checks
    } catch (err) {
      throw new CliError(Exit.Usage, (err as Error).message, { cause: err });
    }
    let r;
    try {
      r = await d.initAuthority(dataDir, Date.now());
    } catch (err) {
      if (err instanceof d.DaemonError) throw new CliError(err.code === "ALREADY_INITIALISED" ? Exit.Conflict : Exit.Failure, err.message, { cause: err });
      throw err;
    }
    const out = { dataDir, caFingerprint: r.caFingerprint, notAfter: isoTime(r.notAfter), files: r.files };
    emit(io, Boolean(values.json), out, () =>
      [
        `created a root CA in ${dataDir}/ca (valid until ${out.notAfter})`,
        `  CA fingerprint: ${out.caFingerprint}`,
        ...out.files.map((f) => `  ${f}`),
        `Back up ${dataDir}/ca now, then start the daemon:`,
        `  tether daemon --data-dir ${dataDir}`,
        "",
      ].join("\n"),
    );
    return Exit.Ok;
  },
};
