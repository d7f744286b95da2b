/** Daemon configuration: defaults as named constants, resolved once into a frozen object. */
import { join, resolve } from "node:path";
import { parseDurationMs } from "@tether/base";
import { ADMIN_SOCKET_NAME, defaultDataDir } from "@tether/wire";
import { DaemonError } from "./errors.js";

export { ADMIN_SOCKET_NAME, DATA_DIR_ENV, defaultDataDir } from "@tether/wire";

export const DEFAULT_LISTEN = "127.0.0.1:7443";
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
  /** server reflection on the node listener too (always on the admin socket); off by default (docs/security.md, row 51) */
  reflection?: boolean;
}>;

/**
 * Split HOST:PORT (IPv6 as [addr]:port).
 * @throws DaemonError BAD_ADDRESS
 */
export function parseHostPort(s: string, label = "address"): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new DaemonError("BAD_ADDRESS", `${label} must be HOST:PORT (IPv6 as [ADDR]:PORT), got ${JSON.stringify(s)}`);
  return { host: (m[1] ?? m[2]) as string, port };
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

export function resolveDaemonConfig(o: {
  dataDir?: string;
  listen?: string;
  advertise?: string;
  nodeCertLifetimeMs?: number;
  jobRetentionMs?: number;
  sweepIntervalMs?: number;
  reflection?: boolean;
}): DaemonConfig {
  const dataDir = resolve(o.dataDir ?? defaultDataDir());
  if (join(dataDir, ADMIN_SOCKET_NAME).length > MAX_SOCKET_PATH) {
    throw new DaemonError("BAD_DATA_DIR", `data directory path is too long for a Unix socket (max ${MAX_SOCKET_PATH - ADMIN_SOCKET_NAME.length - 1} bytes)`);
  }
  const { host, port } = parseHostPort(o.listen ?? DEFAULT_LISTEN, "--listen");
  if (o.advertise !== undefined) parseHostPort(o.advertise, "--advertise");
  if (
    o.nodeCertLifetimeMs !== undefined &&
    !(o.nodeCertLifetimeMs >= MIN_NODE_CERT_LIFETIME_MS && o.nodeCertLifetimeMs <= MAX_NODE_CERT_LIFETIME_MS)
  ) {
    throw new DaemonError("BAD_DURATION", "--cert-lifetime must be between 1m and 90d");
  }
  if (o.jobRetentionMs !== undefined && !(o.jobRetentionMs === 0 || (o.jobRetentionMs >= 60_000 && o.jobRetentionMs <= MAX_JOB_RETENTION_MS))) {
    throw new DaemonError("BAD_DURATION", "--job-retention must be 0 (keep forever) or between 1m and 3650d");
  }
  return Object.freeze({
    dataDir,
    listenHost: host,
    listenPort: port,
    ...(o.advertise ? { advertise: o.advertise } : {}),
    ...(o.nodeCertLifetimeMs ? { nodeCertLifetimeMs: o.nodeCertLifetimeMs } : {}),
    ...(o.jobRetentionMs !== undefined ? { jobRetentionMs: o.jobRetentionMs } : {}),
    sweepIntervalMs: o.sweepIntervalMs ?? SWEEP_INTERVAL_MS,
    ...(o.reflection ? { reflection: true } : {}),
  });
}
