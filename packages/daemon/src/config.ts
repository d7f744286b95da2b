/** Daemon configuration: defaults as named constants, resolved once into a frozen object. */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { DaemonError } from "./errors.js";

export const DEFAULT_LISTEN = "127.0.0.1:7443";
export const DATA_DIR_ENV = "TETHER_HOME";
export const ADMIN_SOCKET_NAME = "admin.sock";
export const SWEEP_INTERVAL_MS = 10_000;
/** Unix socket paths are limited to 108 bytes on Linux (including the NUL). */
const MAX_SOCKET_PATH = 107;

/** $TETHER_HOME, else ~/.tether */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env[DATA_DIR_ENV] || join(homedir(), ".tether"));
}

export type DaemonConfig = Readonly<{
  dataDir: string;
  listenHost: string;
  listenPort: number;
  /** host:port put into QR codes; defaults to the bound listen address. */
  advertise?: string;
  nodeCertLifetimeMs?: number;
  sweepIntervalMs: number;
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

export function resolveDaemonConfig(o: {
  dataDir?: string;
  listen?: string;
  advertise?: string;
  nodeCertLifetimeMs?: number;
  sweepIntervalMs?: number;
}): DaemonConfig {
  const dataDir = resolve(o.dataDir ?? defaultDataDir());
  if (join(dataDir, ADMIN_SOCKET_NAME).length > MAX_SOCKET_PATH) {
    throw new DaemonError("BAD_DATA_DIR", `data directory path is too long for a Unix socket (max ${MAX_SOCKET_PATH - ADMIN_SOCKET_NAME.length - 1} bytes)`);
  }
  const { host, port } = parseHostPort(o.listen ?? DEFAULT_LISTEN, "--listen");
  if (o.advertise !== undefined) parseHostPort(o.advertise, "--advertise");
  return Object.freeze({
    dataDir,
    listenHost: host,
    listenPort: port,
    ...(o.advertise ? { advertise: o.advertise } : {}),
    ...(o.nodeCertLifetimeMs ? { nodeCertLifetimeMs: o.nodeCertLifetimeMs } : {}),
    sweepIntervalMs: o.sweepIntervalMs ?? SWEEP_INTERVAL_MS,
  });
}
