/** tether daemon: run the daemon in the foreground. */
import { resolve } from "node:path";
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, createLogger, parseLogLevel, redactUrl } from "@tether/base";
import type { LevelLogger, LogLevel, Logger } from "@tether/base";
import { DATA_DIR_ENV } from "@tether/wire";
import type { Command, Flag, Io, Values } from "../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, didYouMean, emit, orList, str, table } from "../cli.js";
import type { Resolved, Setting } from "../settings.js";
import { readConfigFile, resolveSettings, settingsOf } from "../settings.js";

type Daemon = typeof import("@tether/daemon");
type DaemonConfig = import("@tether/daemon").DaemonConfig;

/** The variable that names the config file when --config does not. */
export const CONFIG_ENV = "TETHER_CONFIG";
/** The daemon's flags that are not settings (no variable, no key in the file). */
const NOT_SETTINGS = ["config", "print-config"];
/**
 * The settings a running daemon changes on SIGHUP (RunningDaemon.reload); a change to any
 * other one is reported as needing a restart. A flag added later is restart-only until its
 * name is added here and reload() applies it.
 */
export const RELOADABLE: readonly string[] = ["log-level", "pairing-burst", "pairing-rate", "max-connections", "max-handshakes", "max-handshakes-per-address"];
/**
 * TETHER_* variables that are not daemon settings but are tether's own (the node's, those set
 * for jobs and renewal hooks, the tests'): a daemon started with them says nothing. Any other
 * TETHER_* variable is reported at start (`environment variable ignored`) and by --print-config.
 */
const OTHER_VARIABLES = [
  CONFIG_ENV,
  "TETHER_NODE_HOME",
  "TETHER_STATE_DIR",
  "TETHER_DEVICE_ID",
  "TETHER_TLS_CERT",
  "TETHER_TLS_KEY",
  "TETHER_TLS_CA",
  "TETHER_TLS_BUNDLE",
  "TETHER_CERT_FINGERPRINT",
  "TETHER_CERT_NOT_AFTER",
  "TETHER_CERT_NOT_AFTER_MS",
  "TETHER_JOB_ID",
  "TETHER_JOB_DEADLINE",
  "TETHER_JOB_DEADLINE_MS",
  "TETHER_JOB_ATTEMPT",
  "TETHER_STORE_FAULT_FILE",
  "TETHER_TEST_FILE_TIMEOUT_MS",
  "TETHER_SOAK_SECONDS",
  "TETHER_SOAK_TIMEOUT_MS",
];

export const daemonCommand: Command = {
  name: "daemon",
  summary: "run the tether daemon (CA, pairing, admin socket)",
  args: [],
  help: `Runs the daemon in the foreground until SIGINT or SIGTERM. Logs are JSON lines on
stderr; --log-level error|warn|info|debug sets how much (default info).

Every flag below but --config, --print-config and --json is a setting, which can also be
given in the environment or in a TOML config file: --cert-lifetime is TETHER_CERT_LIFETIME
and the key cert-lifetime (upper case, "-" as "_"; --data-dir is TETHER_HOME). A flag wins
over the environment, which wins over the file. The file is --config FILE, or $TETHER_CONFIG:

  listen = "0.0.0.0:7443"
  advertise = "tether.lan:7443"
  log-level = "info"

--print-config shows each setting's value and where it came from, and exits. On SIGHUP the
daemon reads the file again (and the flags and environment it started with): it applies
log-level, pairing-burst, pairing-rate and the max-* limits, and logs which changes need a
restart (listen, data-dir, ...). A bad file then is logged, and the daemon keeps its settings.

On first start it creates, in the data directory:
  store/       the LevelDB store (pairing codes as hashes, requests, devices, jobs,
               the audit log), each record with a checksum
  ca/          the root CA, the listener's server certificate and the pairing
               signer; private keys are separate files of mode 0600
  admin.sock   the admin API socket (mode 0600); every other tether command
               talks to the daemon through it

With --json the ready line is JSON (the logs on stderr are JSON lines either way).

With --metrics HOST:PORT it also serves plain HTTP on that address (off by default):
  /metrics     Prometheus metrics (nodes, pairing, jobs, refusals, certificates,
               the store, the process); labels carry no ids, addresses or secrets
  /healthz     200 while the process runs
  /readyz      200 when ready to serve, else 503 and why (starting, stopping, a
               failed store write, a certificate out of its validity)
There is no authentication on it: keep it on loopback (127.0.0.1:9464) and let a
local Prometheus or an SSH tunnel reach it, or firewall the port. The metrics are
described in docs/operations.md, "Metrics".

It makes a new CA only in an empty data directory (or see: tether ca init). Later
starts check ca/ first: with a key file missing, mismatched or unreadable, or a store
without its CA, the daemon exits 1, naming the file, and writes nothing; restore the
file from a backup. The server and signer certificates are re-issued when missing.

Only one daemon can use a data directory at a time.

With --store postgresql://... (and --kek-file) the state is in that database instead,
and the CA, token, seal and signer keys are in it sealed under the key-encryption key
(make it with tether ca new-kek); the data directory keeps the admin socket and this
daemon's server certificate. One daemon writes a database at a time: a second exits 9,
or with --standby waits, not listening, and takes over the moment the first is gone.
An unreachable database at start exits 3. If the database goes away while it runs,
health says NOT_SERVING and the daemon restarts itself on it once it answers. Move an
embedded install with tether store migrate; see docs/scaling.md.

Both the node listener and the admin socket serve the standard gRPC health service
(see: tether health); the admin socket also serves server reflection (grpcurl), and
the listener does too with --reflection.

It checks its store at every start and refuses a damaged one (exit 14), naming the
problem: see \`tether store check\` and \`tether store repair\`. If a store write fails
while it runs (disk full, I/O error), it refuses every call with UNAVAILABLE until
it is restarted; \`tether status\` says why (exit 14).`,
  examples: [
    "tether daemon --data-dir /var/lib/tether --listen 0.0.0.0:7443 --advertise tether.lan:7443",
    "tether daemon --listen 127.0.0.1:0 --json   # a free port; the ready line says which",
    "tether daemon --config /etc/tether/tether.toml",
    "tether daemon --metrics 127.0.0.1:9464      # then: curl -s 127.0.0.1:9464/metrics",
    "TETHER_LOG_LEVEL=debug tether daemon --config tether.toml --print-config   # what it would use, and why",
  ],
  options: {
    "data-dir": { ...(DATA_DIR_OPTION["data-dir"] as Flag), env: DATA_DIR_ENV, default: "~/.tether" },
    listen: { type: "string", value: "HOST:PORT", about: "the node-facing TLS listener (port 0 picks a free port)", default: "127.0.0.1:7443" },
    advertise: { type: "string", value: "HOST:PORT", about: "the address put into QR codes", default: "the listen address" },
    "cert-lifetime": { type: "string", value: "DURATION", about: "lifetime of the node certificates it issues: 90m, 7d, ... between 1m and 90d", default: "24h" },
    "job-retention": { type: "string", value: "DURATION", about: "how long finished jobs are kept before they are deleted: 1m..3650d, or 0 to keep them forever", default: "7d" },
    "log-level": { type: "string", value: "error|warn|info|debug", about: "how much it logs (debug adds a line per job)", default: "info" },
    "pairing-burst": { type: "string", value: "N", about: "per source address, Pairing calls at once: Starts spend one budget of N,\nrefused calls another", default: "30" },
    "pairing-rate": { type: "string", value: "PER-SECOND", about: "how fast each pairing budget refills, in calls per second (0.5: one every 2 s)", default: "2" },
    "max-connections": {
      type: "string",
      value: "N",
      about: "node-listener connections open at once (never more than the default)",
      default: "the open-file limit less max(64, a quarter of it)",
    },
    "max-handshakes": { type: "string", value: "N", about: "TLS handshakes in progress at once, from all addresses", default: "half of max-connections" },
    "max-handshakes-per-address": { type: "string", value: "N", about: "TLS handshakes in progress at once from one source address", default: "32" },
    "handshake-timeout": { type: "string", value: "DURATION", about: "a connection whose TLS handshake is not complete by then is closed: 1s..5m", default: "10s" },
    metrics: {
      type: "string",
      value: "HOST:PORT",
      about: "serve /metrics, /healthz and /readyz over HTTP here, e.g. 127.0.0.1:9464 (port 0: a free port;\nno authentication: keep it on loopback)",
      default: "off",
    },
    "return-grace": {
      type: "string",
      value: "DURATION",
      about:
        "a device whose certificate expired less than this ago returns by its identity key without an admin;\nlater, or with 0, its return waits for approval (tether pair list), 1m..365d",
      default: "30d",
    },
    console: {
      type: "string",
      value: "HOST:PORT",
      about: "where the web console listens once `tether console` asks for it (port 0: a free port;\noff loopback it serves HTTPS with the daemon's server certificate)",
      default: "127.0.0.1:0",
    },
    config: {
      type: "string",
      value: "FILE",
      about: "read settings from this TOML file (its keys: the flags without dashes)",
      default: `$${CONFIG_ENV}, else none`,
      complete: "files",
    },
    "print-config": { type: "boolean", about: "print each setting, its value and where it came from (flag, env, file, default); start nothing" },
    store: {
      type: "string",
      value: "level:DIR|postgresql://...",
      about:
        "where the state is: the embedded LevelDB store of data directory DIR (the default: --data-dir's),\nor a PostgreSQL database (a libpq URL; a Unix socket: postgresql:///tether?host=/run/postgresql;\nthe password from PGPASSWORD or ~/.pgpass rather than the URL)",
      default: "level:DATA_DIR",
    },
    "kek-file": {
      type: "string",
      value: "FILE",
      about:
        "with a PostgreSQL --store: the key-encryption key (0600) that seals the CA in the database\n(make the first with `tether ca new-kek FILE`; every replica needs the same one)",
      default: "none",
      complete: "files",
    },
    standby: {
      type: "boolean",
      about:
        "with a PostgreSQL --store another daemon holds: wait, not listening, and take over (load the state\nand listen) the moment it is gone. Without it such a start exits 9",
    },
    replica: {
      type: "boolean",
      about:
        "with a PostgreSQL --store: be the active daemon if none is, else serve beside it: listen, serve this\nadmin socket, and forward every call to it; take over (on the same port) the moment it is gone",
    },
    webhook: {
      type: "string",
      multiple: true,
      value: "URL",
      about: "send the webhook events (request.pending, request.approved, device.revoked, ...) to this receiver,\nsigned as Standard Webhooks says (repeatable; docs/webhooks.md)",
      default: "none",
    },
    "webhook-secret-file": {
      type: "string",
      value: "FILE",
      about: "with --webhook: the whsec_ secret (mode 0600) that signs each message",
      default: "none",
      complete: "files",
    },
    "webhook-retry-for": {
      type: "string",
      value: "DURATION",
      about: "with --webhook: how long a message a receiver does not take is tried again, 1m..30d",
      default: "24h",
    },
    "webhook-offline-after": {
      type: "string",
      value: "DURATION",
      about: "with --webhook: send device.offline once a device has been silent this long, 1s..30d",
      default: "5m",
    },
    "webhook-expiring-before": {
      type: "string",
      value: "DURATION",
      about: "with --webhook: send certificate.expiring once a device's certificate has this little left\n(a node renews at half its lifetime, so this means it is late), 1m..365d",
      default: "a quarter of --cert-lifetime",
    },
    "upgrade-store": {
      type: "boolean",
      about:
        "with a PostgreSQL --store whose schema is older than this tether's: bring it up to date at start\n(back the database up first; tether store upgrade does the same without starting)",
    },
    reflection: {
      type: "boolean",
      about:
        "also serve gRPC server reflection on the node listener (Pairing, Node, Orchestrator; never Admin).\nIt is always on the admin socket; off on the listener, which anyone who can reach may ask",
    },
  },
  async run({ values: flags, io }) {
    const d = await import("@tether/daemon");
    // A reload (SIGHUP) reads the file again, with the flags and the environment of this start.
    const env = { ...io.env };
    const loaded = load(d, flags, env);
    if (flags["print-config"]) {
      printConfig(io, Boolean(flags.json), loaded);
      return Exit.Ok;
    }
    // Each setting's value, from its flag, the environment or the file (undefined: the default);
    // an error about one names where it came from: loaded.resolved.labelOf(name).
    const { config } = loaded;
    const log = createLogger({ write: io.err, level: loaded.logLevel });
    for (const w of loaded.resolved.ignored) log.warn("environment variable ignored", { variable: w.variable, suggestions: w.suggestions });
    // From here a SIGHUP must not end the process (its default action): before the daemon is
    // ready, and once it is stopping, it is ignored; in between it reloads the configuration.
    let onHangup = () => log.warn("SIGHUP ignored: the daemon is not ready yet");
    process.on("SIGHUP", () => onHangup());
    // A failed store write leaves memory and disk in doubt: the daemon logs it and refuses
    // every call from then on (tether status says why). On LevelDB a restart reloads the truth
    // from disk. On PostgreSQL the truth is the database, so the daemon restarts itself: it
    // stops, waits until the database answers, and starts again on the same port (recover()).
    const starting = (c: DaemonConfig, beforeListen?: () => Promise<void>) =>
      d.startDaemon(c, { log, ...(c.postgres ? { onFatal: () => void recover() } : {}), ...(beforeListen ? { beforeListen } : {}) });
    let daemon: Awaited<ReturnType<Daemon["startDaemon"]>>;
    /** caught early by a replica, which is ready before it is the active daemon */
    let stopped: ReturnType<typeof untilStopped> | undefined;
    let tookOver = false;
    /**
     * --replica while another daemon is active: serve beside it (replica.ts) until it is gone,
     * then take over on the same port. Resolves with the daemon that took over, or with the
     * stop that came first.
     * @throws CliError when the replica cannot start, or cannot take over
     */
    const serveAsReplica = async (port: number): Promise<{ running: Awaited<ReturnType<Daemon["startDaemon"]>> } | { stop: { reason: string; code: number } }> => {
      let replica: Awaited<ReturnType<Daemon["startReplica"]>>;
      try {
        replica = await d.startReplica({ ...config, listenPort: port }, { log });
      } catch (e) {
        if (e instanceof d.DaemonError) throw new CliError(exitOf(e.code), e.message, { cause: e });
        throw e;
      }
      stopped ??= untilStopped(log, d.describe);
      const ready = {
        event: "ready",
        role: "replica",
        replicaId: replica.replicaId,
        listen: replica.listen,
        adminSocket: replica.adminSocket,
        caFingerprint: replica.caFingerprint,
        dataDir: config.dataDir,
        pid: process.pid,
      };
      io.out(
        flags.json
          ? `${JSON.stringify(ready)}\n`
          : `tether daemon (replica ${replica.replicaId}) listening on ${replica.listen}, forwarding to the active daemon\n  data dir:       ${config.dataDir}\n  admin socket:   ${replica.adminSocket}\n  CA fingerprint: ${replica.caFingerprint}\n`,
      );
      const pg = config.postgres as NonNullable<DaemonConfig["postgres"]>;
      // Wait for the writer lock, to take over when the active daemon is gone. While the
      // database is down that wait fails; the replica keeps serving (calls get the active's
      // answer, or NO_ACTIVE_DAEMON) and waits again once it answers.
      let closed = false;
      let first: { running: Awaited<ReturnType<Daemon["startDaemon"]>> } | { failed: unknown } | { stop: { reason: string; code: number } };
      for (let attempt = 1; ; attempt++) {
        const takeover = starting({ ...config, listenPort: replica.port, postgres: { ...pg, standby: true } }, async () => {
          log.warn("replica taking over: the active daemon is gone; this one is the active daemon now", { replicaId: replica.replicaId, listen: replica.listen });
          closed = true;
          await replica.close();
        });
        first = await Promise.race([
          takeover.then(
            (running) => ({ running }),
            (failed: unknown) => ({ failed }),
          ),
          stopped.then((stop) => ({ stop })),
        ]);
        if (!("failed" in first) || closed || !(first.failed instanceof d.DaemonError && first.failed.code === "STORE_UNAVAILABLE")) break;
        if (attempt === 1 || attempt % 30 === 0)
          log.warn("replica: the database does not answer; still serving, and waiting for it again every second", {
            replicaId: replica.replicaId,
            attempts: attempt,
            error: d.describe(first.failed),
          });
        const again = await Promise.race([new Promise<undefined>((r) => setTimeout(() => r(undefined), RESTART_RETRY_MS)), stopped.then((stop) => ({ stop }))]);
        if (again) {
          first = again;
          break;
        }
      }
      if ("failed" in first) {
        if (!closed) await replica.close();
        const e = first.failed;
        if (e instanceof d.DaemonError) throw new CliError(exitOf(e.code), `the replica could not take over: ${e.message}`, { cause: e });
        throw e;
      }
      if ("stop" in first) {
        if (!closed) await replica.close();
        // The takeover's wait for the database's lock holds a connection open: end the process.
        setTimeout(() => process.exit(first.stop.code), 50);
        return first;
      }
      tookOver = true;
      return first;
    };
    try {
      daemon = await starting(config);
    } catch (err) {
      if (!(err instanceof d.DaemonError)) throw err;
      if (!(config.postgres?.replica && err.code === "STORE_IN_USE")) throw new CliError(exitOf(err.code), err.message, { cause: err });
      const r = await serveAsReplica(config.listenPort);
      if ("stop" in r) return r.stop.code;
      daemon = r.running;
    }
    let stopping = false;
    let recovering: Promise<void> | undefined;
    const recover = () =>
      (recovering ??= (async () => {
        const port = Number(daemon.listen.slice(daemon.listen.lastIndexOf(":") + 1));
        log.warn("restarting on the database: the daemon stops, and starts again once the database answers, reloading its state from it", { listen: daemon.listen });
        await daemon.close("store failed").catch(() => undefined);
        for (let attempt = 1; !stopping; attempt++) {
          try {
            daemon = await starting({ ...config, listenPort: port });
            log.info("daemon restarted on the database", { attempts: attempt, listen: daemon.listen });
            printReady(true); // a supervisor watching stdout sees it serve again
            break;
          } catch (err) {
            const code = err instanceof d.DaemonError ? err.code : "";
            if (code === "STORE_IN_USE" && config.postgres?.replica) {
              // Another replica took over meanwhile: serve beside it again, as at start.
              log.warn("another daemon is active now; serving as its replica", { listen: daemon.listen });
              try {
                const r = await serveAsReplica(port);
                if ("running" in r) {
                  daemon = r.running;
                  printReady(true);
                }
              } catch (e) {
                log.error("serving as a replica failed; exiting", { error: d.describe(e) });
                process.exitCode = e instanceof CliError ? e.exitCode : Exit.Failure;
                process.kill(process.pid, "SIGTERM");
              }
              return;
            }
            if (code !== "STORE_UNAVAILABLE" && code !== "STORE_IN_USE") {
              log.error("restart on the database failed; exiting", { error: d.describe(err) });
              process.exitCode = Exit.Failure;
              process.kill(process.pid, "SIGTERM");
              return;
            }
            if (attempt === 1 || attempt % 30 === 0) log.warn("the database does not answer yet; trying again every second", { attempts: attempt, error: d.describe(err) });
            await new Promise((r) => setTimeout(r, RESTART_RETRY_MS));
          }
        }
      })().finally(() => (recovering = undefined)));
    // The stop signals are caught before the ready line is printed: a supervisor (or a test)
    // that sends SIGTERM as soon as it reads that line gets a clean stop, not a killed process.
    stopped ??= untilStopped(log, d.describe);
    /** The ready line; again, with "restarted": true, after a restart on the database. */
    const printReady = (restarted: boolean) => {
      const ready = {
        event: "ready",
        listen: daemon.listen,
        advertise: daemon.advertise,
        adminSocket: daemon.adminSocket,
        caFingerprint: daemon.caFingerprint,
        dataDir: config.dataDir,
        ...(daemon.metrics ? { metrics: daemon.metrics } : {}),
        pid: process.pid,
        ...(config.postgres ? { role: "active" } : {}),
        ...(restarted ? { restarted: true } : {}),
        ...(tookOver ? { takeover: true } : {}),
      };
      io.out(
        flags.json
          ? `${JSON.stringify(ready)}\n`
          : `tether daemon ${restarted ? "restarted on the database, " : ""}listening on ${daemon.listen}\n  data dir:       ${config.dataDir}\n  admin socket:   ${daemon.adminSocket}\n  CA fingerprint: ${daemon.caFingerprint}\n` +
              (daemon.metrics ? `  metrics:        http://${daemon.metrics}/metrics (and /healthz, /readyz)\n` : "") +
              (restarted ? "" : `Next: tether pair code --method pin --data-dir ${config.dataDir}\n`),
      );
    };
    printReady(false);
    onHangup = reloader(
      loaded,
      () => load(d, flags, env),
      (next) => daemon.reload(next),
      log,
    );
    const stop = await stopped;
    onHangup = () => {};
    stopping = true;
    await recovering;
    await daemon.close(stop.reason);
    return typeof process.exitCode === "number" && process.exitCode !== 0 ? process.exitCode : stop.code;
  },
};

/** The exit code of a start the daemon refused (tether daemon --help; docs/operations.md). */
function exitOf(code: string): number {
  if (code === "STORE_DAMAGED" || code === "STORE_OUTDATED" || code === "STORE_UNSUPPORTED") return Exit.Store;
  if (code === "STORE_UNAVAILABLE") return Exit.Unreachable;
  if (code === "STORE_IN_USE") return Exit.Busy;
  return Exit.Failure;
}

/** The daemon's settings: its options but NOT_SETTINGS. */
export function daemonSettings(): Setting[] {
  return settingsOf(daemonCommand.options, NOT_SETTINGS);
}

type Loaded = { resolved: Resolved; config: DaemonConfig; logLevel: LogLevel };

/**
 * Resolve the settings (flags > environment > file > defaults) and check them into the
 * daemon's configuration. Nothing is started or written.
 * @throws CliError (exit 2) naming the file, key or variable of a bad value
 */
function load(d: Daemon, flags: Values, env: NodeJS.ProcessEnv): Loaded {
  const path = str(flags.config) ?? (env[CONFIG_ENV] || undefined);
  const file = path === undefined ? undefined : readConfigFile(path);
  const resolved = resolveSettings(daemonSettings(), { command: "daemon", values: flags, env, file, known: OTHER_VARIABLES });
  return { resolved, ...configOf(d, resolved) };
}

function configOf(d: Daemon, r: Resolved): { config: DaemonConfig; logLevel: LogLevel } {
  const at = (name: string) => r.labelOf(name);
  const value = (name: string) => str(r.values[name]);
  const opt = <T>(name: string, parse: (s: string, label: string) => T): T | undefined => {
    const s = value(name);
    return s === undefined ? undefined : parse(s, at(name));
  };
  try {
    const level = value("log-level");
    const logLevel = level === undefined ? DEFAULT_LOG_LEVEL : parseLogLevel(level);
    if (!logLevel) throw new CliError(Exit.Usage, `${at("log-level")} must be ${orList(LOG_LEVELS)}, got ${JSON.stringify(level)}`);
    const dataDir = value("data-dir");
    if (dataDir === "") throw new CliError(Exit.Usage, `${at("data-dir")} must be a directory path, got ""`);
    const burst = opt("pairing-burst", d.parseCount);
    const perSecond = opt("pairing-rate", d.parseRate);
    const limits = {
      maxConnections: opt("max-connections", d.parseCount),
      maxHandshakes: opt("max-handshakes", d.parseCount),
      maxHandshakesPerAddress: opt("max-handshakes-per-address", d.parseCount),
      handshakeTimeoutMs: opt("handshake-timeout", d.parseHandshakeTimeout),
    };
    const listenerLimits = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
    const config = d.resolveDaemonConfig({
      dataDir: dataDir === undefined ? d.defaultDataDir({}) : resolve(dataDir),
      ...(value("listen") !== undefined ? { listen: value("listen") as string } : {}),
      ...(value("advertise") !== undefined ? { advertise: value("advertise") as string } : {}),
      ...(value("cert-lifetime") !== undefined ? { nodeCertLifetimeMs: opt("cert-lifetime", d.parseDuration) as number } : {}),
      ...(value("job-retention") !== undefined ? { jobRetentionMs: opt("job-retention", d.parseDuration) as number } : {}),
      ...(burst !== undefined || perSecond !== undefined
        ? { pairingRateLimit: { burst: burst ?? d.DEFAULT_START_RATE_LIMIT.burst, perSecond: perSecond ?? d.DEFAULT_START_RATE_LIMIT.perSecond } }
        : {}),
      ...(Object.keys(listenerLimits).length ? { listenerLimits } : {}),
      ...(r.values.reflection === true ? { reflection: true } : {}),
      ...(value("metrics") !== undefined ? { metrics: value("metrics") as string } : {}),
      ...(value("console") !== undefined ? { console: value("console") as string } : {}),
      ...(value("return-grace") !== undefined ? { returnGraceMs: opt("return-grace", d.parseDuration) as number } : {}),
      ...(value("store") !== undefined ? { store: value("store") as string } : {}),
      ...(value("kek-file") !== undefined ? { kekFile: value("kek-file") as string } : {}),
      ...(r.values["upgrade-store"] === true ? { upgradeStore: true } : {}),
      ...(r.values.standby === true ? { standby: true } : {}),
      ...(r.values.replica === true ? { replica: true } : {}),
      ...(Array.isArray(r.values.webhook) && r.values.webhook.length ? { webhooks: r.values.webhook as string[] } : {}),
      ...(value("webhook-secret-file") !== undefined ? { webhookSecretFile: value("webhook-secret-file") as string } : {}),
      ...(value("webhook-retry-for") !== undefined ? { webhookRetryForMs: opt("webhook-retry-for", d.parseDuration) as number } : {}),
      ...(value("webhook-offline-after") !== undefined ? { webhookOfflineAfterMs: opt("webhook-offline-after", d.parseDuration) as number } : {}),
      ...(value("webhook-expiring-before") !== undefined ? { webhookExpiringBeforeMs: opt("webhook-expiring-before", d.parseDuration) as number } : {}),
      labels: {
        webhook: at("webhook"),
        "webhook-secret-file": at("webhook-secret-file"),
        "webhook-retry-for": at("webhook-retry-for"),
        "webhook-offline-after": at("webhook-offline-after"),
        "webhook-expiring-before": at("webhook-expiring-before"),
        store: at("store"),
        "kek-file": at("kek-file"),
        "data-dir": at("data-dir"),
        listen: at("listen"),
        advertise: at("advertise"),
        "cert-lifetime": at("cert-lifetime"),
        "job-retention": at("job-retention"),
        metrics: at("metrics"),
        console: at("console"),
        "return-grace": at("return-grace"),
      },
    });
    return { config, logLevel };
  } catch (err) {
    if (err instanceof d.DaemonError) throw new CliError(Exit.Usage, err.message, { cause: err });
    throw err;
  }
}

/** --print-config: every setting with its value and source; the ignored variables. */
function printConfig(io: Io, json: boolean, loaded: Loaded): void {
  const r = loaded.resolved;
  const rows = daemonSettings().map((s) => {
    const given = r.values[s.name];
    const src = r.sources[s.name] ?? { source: "default" as const };
    // The data directory is shown resolved: where the daemon would write.
    const value = s.name === "data-dir" ? loaded.config.dataDir : s.name === "store" && typeof given === "string" ? redactUrl(given) : (given ?? null);
    return {
      name: s.name,
      value,
      ...(value === null ? { default: s.flag.default ?? null } : {}),
      source: src.source,
      from: src.source === "default" ? null : src.from,
      env: s.env,
      reload: RELOADABLE.includes(s.name) ? "live" : "restart",
    };
  });
  const out = {
    file: r.file ?? null,
    settings: Object.fromEntries(rows.map(({ name, ...row }) => [name, row])),
    ignored: r.ignored,
  };
  emit(io, json, out, () => {
    const lines = [
      `tether daemon settings; config file: ${r.file ?? `none (give --config FILE or $${CONFIG_ENV})`}`,
      "",
      table(
        ["SETTING", "VALUE", "FROM", "ON SIGHUP"],
        rows.map((row) => [
          row.name,
          row.value === null ? `(default: ${String(row.default)})` : String(row.value),
          // "flag --listen", "env TETHER_LISTEN", "file /etc/tether/tether.toml", "default"
          row.source === "default" ? "default" : `${row.source} ${row.from}`,
          row.reload === "live" ? "applied" : "needs a restart",
        ]),
      ).trimEnd(),
      ...r.ignored.map((w) => `warning: ${w.variable} is not a setting of tether daemon; ignored${didYouMean(w.suggestions)}`),
    ];
    return `${lines.join("\n")}\n`;
  });
}

type Change = { from: unknown; to: unknown };

/**
 * SIGHUP: read the configuration again (the same file, the flags and environment of the
 * start), apply the settings that can change live, and log one line: `configuration reloaded`
 * with `changed` (applied), `needsRestart` (what the file or environment now says, which only
 * a restart applies) and `effect` (what the daemon changed, RunningDaemon.reload). A bad file
 * is logged (`configuration reload failed; keeping the running configuration`) and changes
 * nothing.
 */
function reloader(
  start: Loaded,
  again: () => Loaded,
  apply: (next: import("@tether/daemon").LiveConfig & { logLevel?: LogLevel }) => { applied: Record<string, Change> },
  log: LevelLogger,
) {
  /** the values in force: those of the start, and for RELOADABLE ones the last reload's */
  const running: Values = { ...start.resolved.values };
  return () => {
    let next: Loaded;
    try {
      next = again();
    } catch (err) {
      log.error("configuration reload failed; keeping the running configuration", { file: start.resolved.file ?? null, error: (err as Error).message });
      return;
    }
    // Everything below only compares and assigns: next has been checked in full.
    const changed: Record<string, Change> = {};
    const needsRestart: Record<string, Change> = {};
    for (const s of daemonSettings()) {
      const from = running[s.name];
      const to = next.resolved.values[s.name];
      if (JSON.stringify(from) === JSON.stringify(to)) continue;
      // A password someone put into a --store URL is not logged (security.md row 56).
      const shown = (v: unknown) => (s.name === "store" && typeof v === "string" ? redactUrl(v) : (v ?? null));
      const change = { from: shown(from), to: shown(to) };
      if (RELOADABLE.includes(s.name)) {
        changed[s.name] = change;
        running[s.name] = to;
      } else {
        needsRestart[s.name] = change;
      }
    }
    const { pairingRateLimit, listenerLimits } = next.config;
    const effect = apply({ logLevel: next.logLevel, ...(pairingRateLimit ? { pairingRateLimit } : {}), ...(listenerLimits ? { listenerLimits } : {}) }).applied;
    const fields = { file: next.resolved.file ?? null, changed, needsRestart, effect };
    if (Object.keys(needsRestart).length) log.warn("configuration reloaded", fields);
    else log.info("configuration reloaded", fields);
  };
}

/** How often a daemon on PostgreSQL whose store failed tries to start again. */
const RESTART_RETRY_MS = 1_000;

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
