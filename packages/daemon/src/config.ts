/** Daemon configuration: defaults as named constants, resolved once into a frozen object. */
import { join, resolve } from "node:path";
import { parseDurationMs, redactUrl, splitHostPort } from "@tether/base";
import { ADMIN_SOCKET_NAME, defaultDataDir } from "@tether/wire";
import { DaemonError } from "./errors.js";
import type { RateLimit } from "./ratelimit.js";
import type { ListenerLimits } from "./tls.js";

export { ADMIN_SOCKET_NAME, DATA_DIR_ENV, defaultDataDir } from "@tether/wire";

export const DEFAULT_LISTEN = "127.0.0.1:7443";
/** device.offline after this much silence, unless --webhook-offline-after says otherwise. */
export const DEFAULT_WEBHOOK_OFFLINE_AFTER_MS = 5 * 60_000;
/** The web console's address: loopback, a free port (the login URL names it). */
export const DEFAULT_CONSOLE = "127.0.0.1:0";
export const SWEEP_INTERVAL_MS = 10_000;
/** Unix socket paths are limited to 108 bytes on Linux (including the NUL). */
const MAX_SOCKET_PATH = 107;

export type DaemonConfig = Readonly<{
  dataDir: string;
  listenHost: string;
  listenPort: number;
  /** host:port put into QR codes; defaults to the bound listen address. */
  advertise?: string;
  nodeCertLifetimeMs?: number;
  /** how long finished jobs are kept (0: forever; default 7 days, @tether/jobs) */
  jobRetentionMs?: number;
  sweepIntervalMs: number;
  /** the Pairing service's per-address budgets (default DEFAULT_START_RATE_LIMIT, ratelimit.ts) */
  pairingRateLimit?: RateLimit;
  /** the node listener's caps and handshake timeout; what is absent is derived (tls.ts) */
  listenerLimits?: Partial<ListenerLimits>;
  /** receivers of the webhook events (docs/webhooks.md): their URLs, the file of the signing secret, how long a message is retried */
  webhooks?: Readonly<{
    urls: readonly string[];
    secretFile: string;
    retryForMs: number;
    /** device.offline after this much silence (--webhook-offline-after) */
    offlineAfterMs: number;
    /** certificate.expiring this long before the end (--webhook-expiring-before; absent: a quarter of the certificate lifetime) */
    expiringBeforeMs?: number;
  }>;
  /** server reflection on the node listener too (always on the admin socket); off by default (docs/security.md, row 51) */
  reflection?: boolean;
  /** where to serve /metrics, /healthz and /readyz over HTTP (--metrics; absent: not served) */
  metrics?: Readonly<{ host: string; port: number }>;
  /** how long after its certificate expired a device returns by its identity key alone (--return-grace; 0: every return waits for an admin; absent: 30 days) */
  returnGraceMs?: number;
  /** where the web console listens once `tether console` asks for it (--console; default DEFAULT_CONSOLE: loopback, a free port) */
  console: Readonly<{ host: string; port: number }>;
  /**
   * A shared PostgreSQL store (--store postgresql://...; absent: the embedded LevelDB store in
   * dataDir/store). `kekFile` holds the key-encryption key that seals the CA in the database.
   */
  postgres?: Readonly<{
    url: string;
    kekFile: string;
    /** --upgrade-store: migrate an older schema at start */ upgrade?: boolean;
    /** --standby: wait for the database's writer lock */ standby?: boolean;
    /** --replica: while another daemon is active, listen and forward every call to it; take over when it is gone */ replica?: boolean;
  }>;
}>;

/** The schemes of a PostgreSQL --store (libpq's connection URIs). */
const PG_SCHEMES = ["postgresql://", "postgres://"] as const;

/** A --store URL as it may be shown or logged (its password replaced). */
export const redactStoreUrl = redactUrl;

export type StoreChoice = { kind: "level"; dataDir: string } | { kind: "postgresql"; url: string };

/**
 * --store: `level:DIR` (the embedded store of data directory DIR, the same as --data-dir DIR)
 * or a PostgreSQL URL, `postgresql://[user@]host[:port]/database[?param=...]` (a Unix socket:
 * `postgresql:///tether?host=/run/postgresql`).
 * @throws DaemonError BAD_STORE
 */
export function parseStore(s: string, label = "--store"): StoreChoice {
  if (s.startsWith("level:")) {
    const dir = s.slice("level:".length);
    if (!dir) throw new DaemonError("BAD_STORE", `${label} level:DIR needs a directory, got ${JSON.stringify(s)}`);
    return { kind: "level", dataDir: resolve(dir) };
  }
  if (PG_SCHEMES.some((p) => s.startsWith(p))) {
    // libpq's URIs are not all WHATWG URLs (postgresql://user@/db?host=/dir has no host part):
    // pg parses them, and says what is wrong when it cannot reach what one names.
    if (/[\s\u0000-\u001f\u007f]/.test(s)) throw new DaemonError("BAD_STORE", `${label} is not a valid PostgreSQL URL (it holds a space or a control character)`);
    return { kind: "postgresql", url: s };
  }
  throw new DaemonError("BAD_STORE", `${label} must be level:DIR or postgresql://..., got ${JSON.stringify(redactStoreUrl(s))}`);
}

/** What a reload can change while the daemon runs (RunningDaemon.reload); absent means the default. */
export type LiveConfig = Readonly<Pick<DaemonConfig, "pairingRateLimit" | "listenerLimits">>;

/**
 * Split HOST:PORT (IPv6 as [addr]:port).
 * @throws DaemonError BAD_ADDRESS
 */
export function parseHostPort(s: string, label = "address"): { host: string; port: number } {
  const hp = splitHostPort(s);
  if (!hp) throw new DaemonError("BAD_ADDRESS", `${label} must be HOST:PORT (IPv6 as [ADDR]:PORT), got ${JSON.stringify(s)}`);
  return hp;
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Upper bound for --job-retention. */
export const MAX_JOB_RETENTION_MS = 3650 * 24 * 60 * 60_000;
/** How often finished jobs past their retention are deleted. */
export const JOB_RETENTION_SWEEP_MS = 60_000;

/** Bounds for --cert-lifetime. */
export const MIN_NODE_CERT_LIFETIME_MS = 60_000;
export const MAX_NODE_CERT_LIFETIME_MS = 90 * 24 * 60 * 60_000;

/**
 * Parse a duration such as "24h", "90m", "3600s", "7d" or plain seconds.
 * @throws DaemonError BAD_DURATION
 */
export function parseDuration(s: string, label: string): number {
  const ms = parseDurationMs(s, { bareSeconds: true });
  if (ms === undefined) throw new DaemonError("BAD_DURATION", `${label} must be a duration like 24h, 90m, 3600s or 7d, got ${JSON.stringify(s)}`);
  return ms;
}

/** Bounds of the settings that count things: --pairing-burst, --max-connections, ... */
export const MAX_COUNT_SETTING = 1_000_000;
/** Upper bound for --pairing-rate (calls per second). */
export const MAX_PAIRING_RATE = 100_000;
/** Bounds for --handshake-timeout. */
export const MIN_HANDSHAKE_TIMEOUT_MS = 1_000;
export const MAX_HANDSHAKE_TIMEOUT_MS = 5 * 60_000;

/**
 * A whole number from `min` to MAX_COUNT_SETTING: "30".
 * @throws DaemonError BAD_NUMBER
 */
export function parseCount(s: string, label: string, min = 1): number {
  const n = /^\d{1,7}$/.test(s.trim()) ? Number(s.trim()) : NaN;
  if (!(n >= min && n <= MAX_COUNT_SETTING)) throw new DaemonError("BAD_NUMBER", `${label} must be a whole number from ${min} to ${MAX_COUNT_SETTING}, got ${JSON.stringify(s)}`);
  return n;
}

/**
 * Calls per second, above 0 and at most MAX_PAIRING_RATE: "2", "0.5".
 * @throws DaemonError BAD_NUMBER
 */
export function parseRate(s: string, label: string): number {
  const n = /^\d{1,6}(\.\d{1,6})?$/.test(s.trim()) ? Number(s.trim()) : NaN;
  if (!(n > 0 && n <= MAX_PAIRING_RATE))
    throw new DaemonError("BAD_NUMBER", `${label} must be a number of calls per second above 0 and at most ${MAX_PAIRING_RATE} (e.g. 2 or 0.5), got ${JSON.stringify(s)}`);
  return n;
}

/**
 * A handshake timeout such as "10s", between 1s and 5m.
 * @throws DaemonError BAD_DURATION
 */
export function parseHandshakeTimeout(s: string, label: string): number {
  const ms = parseDuration(s, label);
  if (!(ms >= MIN_HANDSHAKE_TIMEOUT_MS && ms <= MAX_HANDSHAKE_TIMEOUT_MS)) throw new DaemonError("BAD_DURATION", `${label} must be between 1s and 5m, got ${JSON.stringify(s)}`);
  return ms;
}

/**
 * The daemon's configuration, checked and frozen. `labels` name where each value came from in
 * the errors (default: the flag, "--listen"); the CLI passes "TETHER_LISTEN:" for a value from
 * the environment, "FILE: listen:" for one from a config file.
 * @throws DaemonError BAD_ADDRESS, BAD_DURATION, BAD_DATA_DIR
 */
export function resolveDaemonConfig(o: {
  dataDir?: string;
  listen?: string;
  advertise?: string;
  nodeCertLifetimeMs?: number;
  jobRetentionMs?: number;
  sweepIntervalMs?: number;
  pairingRateLimit?: RateLimit;
  listenerLimits?: Partial<ListenerLimits>;
  labels?: Partial<Record<Labelled, string>>;
  reflection?: boolean;
  /** HOST:PORT for the metrics server (port 0 picks a free port) */
  metrics?: string;
  /** HOST:PORT for the web console (port 0 picks a free port) */
  console?: string;
  returnGraceMs?: number;
  /** level:DIR or a PostgreSQL URL (parseStore) */
  store?: string;
  /** the key-encryption key's file (needed with a PostgreSQL store) */
  kekFile?: string;
  /** bring an older PostgreSQL schema up to date at start (--upgrade-store) */
  upgradeStore?: boolean;
  /** wait for the database while another daemon holds it, and take over when it is gone (--standby) */
  standby?: boolean;
  /** serve beside the active daemon, forwarding to it, and take over when it is gone (--replica) */
  replica?: boolean;
  /** --webhook URL (repeatable), --webhook-secret-file, --webhook-retry-for */
  webhooks?: string[];
  webhookSecretFile?: string;
  webhookRetryForMs?: number;
  webhookOfflineAfterMs?: number;
  webhookExpiringBeforeMs?: number;
}): DaemonConfig {
  const label = (name: Labelled) => o.labels?.[name] ?? `--${name}`;
  const store = o.store === undefined ? undefined : parseStore(o.store, label("store"));
  if (store?.kind === "level" && o.dataDir !== undefined && resolve(o.dataDir) !== store.dataDir) {
    throw new DaemonError("BAD_STORE", `${label("store")} level:${store.dataDir} names another data directory than ${label("data-dir")} ${resolve(o.dataDir)}: give one of them`);
  }
  if (store?.kind === "postgresql" && !o.kekFile) {
    throw new DaemonError(
      "BAD_STORE",
      `${label("store")} is a PostgreSQL database, which keeps the CA sealed under a key-encryption key: give ${label("kek-file")} FILE (make the first one with \`tether ca new-kek FILE\`)`,
    );
  }
  if (store?.kind !== "postgresql" && o.standby) throw new DaemonError("BAD_STORE", `--standby is only for a PostgreSQL ${label("store")} (a LevelDB store has one daemon)`);
  if (store?.kind !== "postgresql" && o.replica) throw new DaemonError("BAD_STORE", `--replica is only for a PostgreSQL ${label("store")} (a LevelDB store has one daemon)`);
  if (o.replica && o.standby)
    throw new DaemonError("BAD_STORE", "--replica and --standby are two ways to wait for the active daemon: give one (a replica serves meanwhile; a standby does not listen)");
  if (store?.kind !== "postgresql" && o.upgradeStore)
    throw new DaemonError("BAD_STORE", `--upgrade-store is only for a PostgreSQL ${label("store")}; the embedded store migrates itself at open`);
  if (store?.kind !== "postgresql" && o.kekFile)
    throw new DaemonError("BAD_STORE", `${label("kek-file")} is only for a PostgreSQL ${label("store")}; the embedded store keeps its keys in DATA_DIR/ca`);
  const dataDir = resolve(store?.kind === "level" ? store.dataDir : (o.dataDir ?? defaultDataDir()));
  if (join(dataDir, ADMIN_SOCKET_NAME).length > MAX_SOCKET_PATH) {
    const where = o.labels?.["data-dir"]; // named only when not the flag: "TETHER_HOME:", "FILE: data-dir:"
    throw new DaemonError(
      "BAD_DATA_DIR",
      `${where?.endsWith(":") ? `${where} ` : ""}data directory path is too long for a Unix socket (max ${MAX_SOCKET_PATH - ADMIN_SOCKET_NAME.length - 1} bytes)`,
    );
  }
  const { host, port } = parseHostPort(o.listen ?? DEFAULT_LISTEN, label("listen"));
  if (o.advertise !== undefined) parseHostPort(o.advertise, label("advertise"));
  if (o.nodeCertLifetimeMs !== undefined && !(o.nodeCertLifetimeMs >= MIN_NODE_CERT_LIFETIME_MS && o.nodeCertLifetimeMs <= MAX_NODE_CERT_LIFETIME_MS)) {
    throw new DaemonError("BAD_DURATION", `${label("cert-lifetime")} must be between 1m and 90d`);
  }
  const metrics = o.metrics !== undefined ? parseHostPort(o.metrics, label("metrics")) : undefined;
  const consoleAt = parseHostPort(o.console ?? DEFAULT_CONSOLE, label("console"));
  if (o.returnGraceMs !== undefined && !(o.returnGraceMs === 0 || (o.returnGraceMs >= 60_000 && o.returnGraceMs <= 365 * 24 * 60 * 60_000))) {
    throw new DaemonError("BAD_DURATION", `${label("return-grace")} must be 0 (every return waits for an admin) or between 1m and 365d`);
  }
  if (o.jobRetentionMs !== undefined && !(o.jobRetentionMs === 0 || (o.jobRetentionMs >= 60_000 && o.jobRetentionMs <= MAX_JOB_RETENTION_MS))) {
    throw new DaemonError("BAD_DURATION", `${label("job-retention")} must be 0 (keep forever) or between 1m and 3650d`);
  }
  const urls = o.webhooks ?? [];
  for (const u of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(u);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      throw new DaemonError("BAD_WEBHOOK", `${label("webhook")} must be an http:// or https:// URL, got ${JSON.stringify(redactUrl(u)).slice(0, 200)}`);
    }
  }
  if (urls.length && !o.webhookSecretFile)
    throw new DaemonError("BAD_WEBHOOK", `${label("webhook")} needs ${label("webhook-secret-file")} FILE: the whsec_ secret that signs each message (0600)`);
  if (!urls.length && o.webhookSecretFile) throw new DaemonError("BAD_WEBHOOK", `${label("webhook-secret-file")} is for ${label("webhook")} URL: give the receivers too`);
  if (o.webhookRetryForMs !== undefined && !(o.webhookRetryForMs >= 60_000 && o.webhookRetryForMs <= 30 * 24 * 60 * 60_000)) {
    throw new DaemonError("BAD_DURATION", `${label("webhook-retry-for")} must be between 1m and 30d`);
  }
  if (o.webhookOfflineAfterMs !== undefined && !(o.webhookOfflineAfterMs >= 1_000 && o.webhookOfflineAfterMs <= 30 * 24 * 60 * 60_000)) {
    throw new DaemonError("BAD_DURATION", `${label("webhook-offline-after")} must be between 1s and 30d`);
  }
  if (o.webhookExpiringBeforeMs !== undefined && !(o.webhookExpiringBeforeMs >= 60_000 && o.webhookExpiringBeforeMs <= 365 * 24 * 60 * 60_000)) {
    throw new DaemonError("BAD_DURATION", `${label("webhook-expiring-before")} must be between 1m and 365d`);
  }
  if (!urls.length && (o.webhookOfflineAfterMs !== undefined || o.webhookExpiringBeforeMs !== undefined))
    throw new DaemonError(
      "BAD_WEBHOOK",
      `${label(o.webhookOfflineAfterMs !== undefined ? "webhook-offline-after" : "webhook-expiring-before")} is for ${label("webhook")} URL: give the receivers too`,
    );
  return Object.freeze({
    dataDir,
    listenHost: host,
    listenPort: port,
    ...(o.advertise ? { advertise: o.advertise } : {}),
    ...(o.nodeCertLifetimeMs ? { nodeCertLifetimeMs: o.nodeCertLifetimeMs } : {}),
    ...(o.jobRetentionMs !== undefined ? { jobRetentionMs: o.jobRetentionMs } : {}),
    sweepIntervalMs: o.sweepIntervalMs ?? SWEEP_INTERVAL_MS,
    ...(o.pairingRateLimit ? { pairingRateLimit: Object.freeze({ ...o.pairingRateLimit }) } : {}),
    ...(o.listenerLimits ? { listenerLimits: Object.freeze({ ...o.listenerLimits }) } : {}),
    ...(o.reflection ? { reflection: true } : {}),
    ...(metrics ? { metrics: Object.freeze(metrics) } : {}),
    console: Object.freeze(consoleAt),
    ...(o.returnGraceMs !== undefined ? { returnGraceMs: o.returnGraceMs } : {}),
    ...(urls.length
      ? {
          webhooks: Object.freeze({
            urls: Object.freeze([...new Set(urls)]),
            secretFile: resolve(o.webhookSecretFile as string),
            retryForMs: o.webhookRetryForMs ?? 24 * 60 * 60_000,
            offlineAfterMs: o.webhookOfflineAfterMs ?? DEFAULT_WEBHOOK_OFFLINE_AFTER_MS,
            ...(o.webhookExpiringBeforeMs !== undefined ? { expiringBeforeMs: o.webhookExpiringBeforeMs } : {}),
          }),
        }
      : {}),
    ...(store?.kind === "postgresql"
      ? {
          postgres: Object.freeze({
            url: store.url,
            kekFile: resolve(o.kekFile as string),
            ...(o.upgradeStore ? { upgrade: true } : {}),
            ...(o.standby ? { standby: true } : {}),
            ...(o.replica ? { replica: true } : {}),
          }),
        }
      : {}),
  });
}

type Labelled =
  | "data-dir"
  | "listen"
  | "advertise"
  | "cert-lifetime"
  | "job-retention"
  | "metrics"
  | "console"
  | "return-grace"
  | "store"
  | "kek-file"
  | "webhook"
  | "webhook-secret-file"
  | "webhook-retry-for"
  | "webhook-offline-after"
  | "webhook-expiring-before";
