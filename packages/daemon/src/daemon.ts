/**
 * The composition root: opens the store (which locks the data directory), loads or creates
 * the CA, and serves the Pairing service on the TLS listener and the Admin service on the
 * Unix socket. Nothing imports this package except the CLI's `daemon` command and tests.
 */
import { chmodSync, existsSync, mkdirSync, statSync, unlinkSync } from "node:fs";
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { join } from "node:path";
import { Server, ServerCredentials, loadPackageDefinition } from "@grpc/grpc-js";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { PAIRING_TABLES, PairingManager } from "@tether/pairing";
import type { PairingConfig, PairingTables } from "@tether/pairing";
import { Store, StoreError } from "@tether/store";
import { MAX_ADMIN_MESSAGE_BYTES, MAX_NODE_MESSAGE_BYTES, tetherPackageDefinition } from "@tether/wire";
import { loadOrCreateAuthority, serverHosts } from "./authority.js";
import type { DaemonConfig } from "./config.js";
import { ADMIN_SOCKET_NAME, formatHostPort, parseHostPort } from "./config.js";
import { DaemonError, describe } from "./errors.js";
import type { Logger } from "./log.js";
import { createLogger } from "./log.js";
import { adminService } from "./services/admin.js";
import { pairingService } from "./services/pairing.js";

export const VERSION = "0.1.0";

export type RunningDaemon = {
  /** host:port actually bound (the port is real even when 0 was asked for) */
  listen: string;
  advertise: string;
  adminSocket: string;
  caFingerprint: string;
  caPem: string;
  pairing: PairingManager;
  close(): Promise<void>;
};

type Services = { Pairing: { service: ServiceDefinition }; Admin: { service: ServiceDefinition } };

function services(): Services {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: Services } };
  return pkg.tether.v1;
}

function bind(server: Server, address: string, creds: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

/** Graceful stop with a bound: open streams get one second, then are cancelled. */
function shutdown(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 1000);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

function prepareDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (!st.isDirectory()) throw new DaemonError("BAD_DATA_DIR", `${dir} is not a directory`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

export async function startDaemon(
  config: DaemonConfig,
  o: { log?: Logger; now?: () => number; pairing?: Partial<PairingConfig> } = {},
): Promise<RunningDaemon> {
  const log = o.log ?? createLogger();
  const now = o.now ?? Date.now;
  prepareDataDir(config.dataDir);

  let store: Store<PairingTables>;
  try {
    store = await Store.open<PairingTables>(join(config.dataDir, "store"), PAIRING_TABLES);
  } catch (err) {
    if (err instanceof StoreError && err.code === "LOCKED") {
      throw new DaemonError("DATA_DIR_IN_USE", `data directory is in use by another daemon (${config.dataDir})`, { cause: err });
    }
    throw err;
  }
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
  const closeAll = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const advertiseHost = config.advertise ? parseHostPort(config.advertise).host : undefined;
    const authority = await loadOrCreateAuthority({
      dataDir: config.dataDir,
      hosts: serverHosts(config.listenHost, advertiseHost),
      now: now(),
      ...(config.nodeCertLifetimeMs ? { nodeCertLifetimeMs: config.nodeCertLifetimeMs } : {}),
    });

    let listen = "";
    let advertise = config.advertise ?? "";
    const pairing = new PairingManager({
      repo: store,
      ca: authority,
      clock: { now },
      randomBytes: (n) => new Uint8Array(nodeRandomBytes(n)),
      advertise: () => advertise,
      ...(o.pairing ? { config: o.pairing } : {}),
    });
    const svc = services();
    const startedAt = now();

    // Node listener: TLS with the daemon's server certificate. Pairing needs no client
    // certificate; the handshake authenticates both sides (docs/protocol.md).
    const nodeServer = new Server({
      "grpc.max_receive_message_length": MAX_NODE_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_NODE_MESSAGE_BYTES,
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
    });
    nodeServer.addService(svc.Pairing.service, pairingService(pairing, authority.caCertDer, log));
    const creds = ServerCredentials.createSsl(
      Buffer.from(authority.caPem),
      [{ private_key: Buffer.from(authority.serverKeyPem), cert_chain: Buffer.from(authority.serverCertPem) }],
      false,
    );
    let port: number;
    try {
      port = await bind(nodeServer, formatHostPort(config.listenHost, config.listenPort), creds);
    } catch (cause) {
      throw new DaemonError("LISTEN_FAILED", `cannot listen on ${formatHostPort(config.listenHost, config.listenPort)}: ${(cause as Error).message}`, { cause });
    }
    cleanups.push(() => shutdown(nodeServer));
    listen = formatHostPort(config.listenHost, port);
    if (!advertise) {
      const h = config.listenHost === "0.0.0.0" || config.listenHost === "::" ? "127.0.0.1" : config.listenHost;
      advertise = formatHostPort(h, port);
    }

    // Admin socket: only the data directory's owner can reach it (0700 folder, 0600 socket).
    const adminSocket = join(config.dataDir, ADMIN_SOCKET_NAME);
    if (existsSync(adminSocket)) unlinkSync(adminSocket); // stale: we hold the store's lock
    const adminServer = new Server({
      "grpc.max_receive_message_length": MAX_ADMIN_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_ADMIN_MESSAGE_BYTES,
    });
    const status = () => ({ version: VERSION, listen, advertise, caFingerprint: authority.caFingerprint, dataDir: config.dataDir, startedAt });
    adminServer.addService(svc.Admin.service, adminService(pairing, status, log));
    const oldUmask = process.umask(0o177);
    try {
      await bind(adminServer, `unix://${adminSocket}`, ServerCredentials.createInsecure());
    } finally {
      process.umask(oldUmask);
    }
    chmodSync(adminSocket, 0o600);
    cleanups.push(() => shutdown(adminServer));
    cleanups.push(() => {
      if (existsSync(adminSocket)) unlinkSync(adminSocket);
    });

    const sweeper = setInterval(() => {
      pairing.sweep().catch((err: unknown) => log.error("sweep failed", { error: describe(err) }));
    }, config.sweepIntervalMs);
    sweeper.unref();
    cleanups.push(() => clearInterval(sweeper));

    log.info("daemon ready", { listen, advertise, adminSocket, caFingerprint: authority.caFingerprint, dataDir: config.dataDir });
    let closing: Promise<void> | undefined;
    return {
      listen,
      advertise,
      adminSocket,
      caFingerprint: authority.caFingerprint,
      caPem: authority.caPem,
      pairing,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
