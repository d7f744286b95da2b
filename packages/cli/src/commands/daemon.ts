/** tether daemon: run the daemon in the foreground. */
import { LOG_LEVEL_ENV, createLogger } from "@tether/base";
import type { Logger } from "@tether/base";
import type { Command } from "../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, dataDirOf, str } from "../cli.js";

export const daemonCommand: Command = {
  name: "daemon",
  summary: "run the tether daemon (CA, pairing, admin socket)",
  args: [],
  help: `Runs the daemon in the foreground until SIGINT or SIGTERM. Logs are JSON lines on
stderr; TETHER_LOG_LEVEL=error|warn|info|debug sets how much (default info).

On first start it creates, in the data directory:
  store/       the LevelDB store (pairing codes as hashes, requests, devices, jobs,
               the audit log), each record with a checksum
  ca/          the root CA, the listener's server certificate and the pairing
               signer; private keys are separate files of mode 0600
  admin.sock   the admin API socket (mode 0600); every other tether command
               talks to the daemon through it

With --json the ready line is JSON (the logs on stderr are JSON lines either way).

It makes a new CA only in an empty data directory (or see: tether ca init). Later
starts check ca/ first: with a key file missing, mismatched or unreadable, or a store
without its CA, the daemon exits 1, naming the file, and writes nothing; restore the
file from a backup. The server and signer certificates are re-issued when missing.

Only one daemon can use a data directory at a time.

Both the node listener and the admin socket serve the standard gRPC health service
(see: tether health); the admin socket also serves server reflection (grpcurl), and
the listener does too with --reflection.

It checks its store at every start and refuses a damaged one (exit 14), naming the
problem: see \`tether store check\` and \`tether store repair\`. If a store write fails
while it runs (disk full, I/O error), it refuses every call with UNAVAILABLE until
it is restarted; \`tether status\` says why (exit 14).`,
  examples: ["tether daemon --data-dir /var/lib/tether --listen 0.0.0.0:7443 --advertise tether.lan:7443", "tether daemon --listen 127.0.0.1:0 --json   # a free port; the ready line says which"],
  options: {
    ...DATA_DIR_OPTION,
    listen: { type: "string", value: "HOST:PORT", about: "the node-facing TLS listener (port 0 picks a free port)", default: "127.0.0.1:7443" },
    advertise: { type: "string", value: "HOST:PORT", about: "the address put into QR codes", default: "the listen address" },
    "cert-lifetime": { type: "string", value: "DURATION", about: "lifetime of the node certificates it issues: 90m, 7d, ... between 1m and 90d", default: "24h" },
    "job-retention": { type: "string", value: "DURATION", about: "how long finished jobs are kept before they are deleted: 1m..3650d, or 0 to keep them forever", default: "7d" },
    reflection: {
      type: "boolean",
      about: "also serve gRPC server reflection on the node listener (Pairing, Node, Orchestrator; never Admin).\nIt is always on the admin socket; off on the listener, which anyone who can reach may ask",
    },
  },
  async run({ values, io }) {
    const d = await import("@tether/daemon");
    let config;
    try {
      config = d.resolveDaemonConfig({
        dataDir: await dataDirOf(values, io.env),
        ...(str(values.listen) ? { listen: str(values.listen) as string } : {}),
        ...(str(values.advertise) ? { advertise: str(values.advertise) as string } : {}),
        ...(str(values["cert-lifetime"]) ? { nodeCertLifetimeMs: d.parseDuration(str(values["cert-lifetime"]) as string, "--cert-lifetime") } : {}),
        ...(str(values["job-retention"]) ? { jobRetentionMs: d.parseDuration(str(values["job-retention"]) as string, "--job-retention") } : {}),
        ...(values.reflection ? { reflection: true } : {}),
      });
    } catch (err) {
      throw new CliError(Exit.Usage, (err as Error).message, { cause: err });
    }
    const log = createLogger({ write: io.err, level: io.env[LOG_LEVEL_ENV] });
    let daemon;
    try {
      // A failed store write leaves memory and disk in doubt: the daemon logs it and refuses
      // every call from then on (tether status says why), until a restart reloads the truth.
      daemon = await d.startDaemon(config, { log });
    } catch (err) {
      if (err instanceof d.DaemonError) throw new CliError(err.code === "STORE_DAMAGED" ? Exit.Store : Exit.Failure, err.message, { cause: err });
      throw err;
    }
    const ready = {
      event: "ready",
      listen: daemon.listen,
      advertise: daemon.advertise,
      adminSocket: daemon.adminSocket,
      caFingerprint: daemon.caFingerprint,
      dataDir: config.dataDir,
      pid: process.pid,
    };
    io.out(
      values.json
        ? `${JSON.stringify(ready)}\n`
        : `tether daemon listening on ${daemon.listen}\n  data dir:       ${config.dataDir}\n  admin socket:   ${daemon.adminSocket}\n  CA fingerprint: ${daemon.caFingerprint}\nNext: tether pair code --method pin --data-dir ${config.dataDir}\n`,
    );
    const stop = await untilStopped(log, d.describe);
    await daemon.close(stop.reason);
    return stop.code;
  },
};

/** A stop after a fatal error that does not finish in this long ends the process anyway. */
const FATAL_CLOSE_MS = 10_000;

/**
 * Wait for SIGINT or SIGTERM (exit 0), or an uncaught exception or unhandled rejection, which
 * is logged (`fatal error`) and stops the daemon (exit 1). Each is caught once: a second
 * signal, or a second fatal error during the stop, ends the process at once as Node does.
 */
function untilStopped(log: Logger, describe: (err: unknown) => string): Promise<{ reason: string; code: number }> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => resolve({ reason: signal, code: Exit.Ok });
    const onFatal = (kind: string) => (err: unknown) => {
      log.error("fatal error", { kind, error: describe(err), stack: err instanceof Error ? err.stack : undefined });
      setTimeout(() => process.exit(Exit.Failure), FATAL_CLOSE_MS).unref();
      resolve({ reason: "fatal error", code: Exit.Failure });
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    process.once("uncaughtException", onFatal("uncaught exception"));
    process.once("unhandledRejection", onFatal("unhandled rejection"));
  });
}
