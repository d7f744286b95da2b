/** tether ca rotate: renew the daemon's own server and pairing-signer certificates now. */
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime } from "../../cli.js";

export const caRotateCommand: Command = {
  name: "ca rotate",
  summary: "renew the daemon's own TLS server and pairing-signer certificates now",
  args: [],
  help: `Issues the daemon a new TLS server certificate and a new pairing-signer certificate,
each with a new key, from its CA, and starts using them without a restart. New
connections get the new server certificate; nodes already connected keep their streams.
Nodes trust the CA, not a particular server certificate, so they need nothing new.

The daemon does this by itself when these certificates are within 30 days of expiry
(they live 90 days). Use it by hand after changing --advertise or the listen address,
or if you suspect the server or signer key was exposed. The root CA is not changed.
The rotation is recorded in the audit log (daemon.certificates_rotated).`,
  examples: ["tether ca rotate --json"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const r = await admin<{ serverFingerprint: string; serverNotAfter: number; signerFingerprint: string; signerNotAfter: number }>(
      await dataDirOf(values, io.env),
      "RotateDaemonCertificates",
      {},
    );
    const out = {
      serverFingerprint: r.serverFingerprint,
      serverNotAfter: isoTime(r.serverNotAfter),
      signerFingerprint: r.signerFingerprint,
      signerNotAfter: isoTime(r.signerNotAfter),
    };
    emit(
      io,
      Boolean(values.json),
      out,
      () => `server certificate ${out.serverFingerprint} (until ${out.serverNotAfter})\nsigner certificate ${out.signerFingerprint} (until ${out.signerNotAfter})\n`,
    );
    return Exit.Ok;
  },
};
