/**
 * A replica (`tether daemon --replica` while another daemon is active on the database;
 * docs/scaling.md, "Replicas"): it listens for nodes and orchestrators on its own address and
 * serves its own admin socket, and forwards every call to the active daemon (forward.ts),
 * whose address the database says (the `cluster` table's `active` record, written by the
 * active once it listens). It keeps no state and decides nothing: what it needs is the CA's
 * certificate and key (from the database's vault, with the key-encryption key), to give its
 * listener a server certificate and itself a short-lived replica client certificate.
 *
 * The CLI runs it while it waits for the database's writer lock; when the lock comes (the
 * active is gone) the replica closes and the daemon takes over on the same port and socket.
 */
import { existsSync, mkdirSync, unlinkSync } from "node:fs";
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { join } from "node:path";
import { Client, Metadata, Server, ServerCredentials, credentials } from "@grpc/grpc-js";
import type { StatusObject } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { derToPem, generateP256KeyPair } from "@tether/ca";
import { MAX_ADMIN_MESSAGE_BYTES, MAX_NODE_MESSAGE_BYTES } from "@tether/wire";
import type { Repository } from "@tether/base";
import { filePlace, loadServerIdentity, openKeys, serverHosts } from "./authority.js";
import type { KeyFiles } from "./authority.js";
import type { DaemonConfig } from "./config.js";
import { ADMIN_SOCKET_NAME, formatHostPort, parseHostPort, redactStoreUrl } from "./config.js";
import { DaemonError, describe } from "./errors.js";
import { ForwardedStreams, forwardingService, opaque } from "./forward.js";
import { WATCH_ENDS_PATH, decodeEnd } from "./stream-ends.js";
import type { StreamEnd } from "./stream-ends.js";
import type { Logger } from "./log.js";
import { PG_START_TIMEOUT_MS, pgOpenFailure } from "./stores.js";
import { TlsListener, cachePeerCertificates, resolveListenerLimits } from "./tls.js";
import { VAULT_TABLE, openVault, readKekFile } from "./vault.js";
import type { VaultTables } from "./vault.js";
import { CLUSTER_TABLE, clusterAddress } from "./cluster.js";
import type { ActiveRecord, ClusterTables } from "./cluster.js";
import { NODE_SERVER_OPTIONS, services, shutdown } from "./daemon.js";

/** How often a replica reads which daemon is active. */
export const ACTIVE_POLL_MS = 1_000;
/** A replica's client certificate is made anew when it is older than this (it lives a day). */
const REPLICA_CERT_RENEW_MS = 12 * 60 * 60_000;
/** How long a replica waits for the active daemon to put the CA into an empty database. */
const CA_WAIT_MS = 5_000;

export type RunningReplica = {
  replicaId: string;
  /** host:port this replica listens on */
  listen: string;
  port: number;
  adminSocket: string;
  caFingerprint: string;
  /** the active daemon's address it forwards to (undefined: none known now) */
  active(): string | undefined;
  close(): Promise<void>;
};

type Tables = ClusterTables & VaultTables;

export async function startReplica(config: DaemonConfig, o: { log: Logger; now?: () => number }): Promise<RunningReplica> {
  const { log } = o;
  const now = o.now ?? Date.now;
  if (!config.postgres) throw new DaemonError("BAD_STORE", "a replica needs a PostgreSQL --store");
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const { url, kekFile } = config.postgres;
  const where = redactStoreUrl(url);
  const kek = readKekFile(kekFile);
  const { PgStore, PgStoreError } = await import("@tether/store-pg");
  let store: import("@tether/store-pg").PgStore<Tables>;
  try {
    store = await PgStore.open<Tables>(url, [CLUSTER_TABLE, VAULT_TABLE], { connectTimeoutMs: PG_START_TIMEOUT_MS, migrate: "fresh" });
  } catch (err) {
    throw pgOpenFailure(err, where, PgStoreError);
  }
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch((err: unknown) => log.error("closing failed", { error: describe(err) }));
  };
  try {
    // The active daemon that holds the database may be making the CA just now: wait for it.
    let keys: KeyFiles | undefined;
    for (const until = now() + CA_WAIT_MS; !keys;) {
      const vault = await openVault(store as unknown as Repository<VaultTables>, kek, kekFile);
      if (!vault.isEmpty()) {
        keys = await openKeys({ shared: vault, local: filePlace(join(config.dataDir, "ca")), now: now(), stateElsewhere: () => "another daemon is using it" });
        break;
      }
      if (now() > until)
        throw new DaemonError("STORE_WITHOUT_CA", `the database ${where} has no CA yet, though a daemon holds it: start this replica again once that daemon is ready`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const ca = keys.ca;
    const advertiseHost = config.advertise ? parseHostPort(config.advertise).host : undefined;
    const server = await loadServerIdentity(keys, {
      hosts: serverHosts(config.listenHost, advertiseHost),
      now: now(),
      onReissue: (file, reason) => log.warn("daemon certificate re-issued", { file, reason }),
    });
    const replicaId = `r-${nodeRandomBytes(4).toString("hex")}`;

    // The way to the active daemon: a client certificate of its own, made anew with each channel.
    type Upstream = { client: Client; ends: Client; address: string; epoch: number; madeAt: number };
    let upstream: Upstream | undefined;
    const streams = new ForwardedStreams();
    /** Hear the active's ends of the streams forwarded through this replica (stream-ends.ts); again after a second if it breaks. */
    const watchEnds = (u: Upstream) => {
      if (upstream !== u) return;
      const w = u.ends.makeServerStreamRequest(WATCH_ENDS_PATH, (b: Buffer) => b, decodeEnd, Buffer.alloc(0), new Metadata(), {});
      w.on("data", (e: StreamEnd) => streams.end(e.stream, e.code, e.details));
      w.on("error", () => {}); // the status below says it
      w.on("status", (st: StatusObject) => {
        if (upstream !== u) return;
        log.debug("replica: the stream-ends watch ended; watching again in a second", { replicaId, code: st.code, details: st.details });
        setTimeout(() => watchEnds(u), 1_000).unref();
      });
    };
    const connect = async (rec: ActiveRecord) => {
      const kp = await generateP256KeyPair();
      const cert = await ca.issueReplicaCert({ replicaId, publicKeySpkiDer: kp.publicKeySpkiDer, now: now(), randomBytes: (n) => new Uint8Array(nodeRandomBytes(n)) });
      const creds = credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(derToPem(kp.privateKeyPkcs8Der, "PRIVATE KEY")), Buffer.from(derToPem(cert.certDer, "CERTIFICATE")));
      const client = new Client(rec.address, creds, {
        "grpc.max_receive_message_length": Math.max(MAX_NODE_MESSAGE_BYTES, MAX_ADMIN_MESSAGE_BYTES),
        "grpc.max_send_message_length": Math.max(MAX_NODE_MESSAGE_BYTES, MAX_ADMIN_MESSAGE_BYTES),
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 5_000,
        "grpc.keepalive_permit_without_calls": 1,
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 1_000,
      });
      // The ends of forwarded streams come on a connection of their own (a local subchannel
      // pool: not the shared one), so that none waits behind the streams' own messages.
      const ends = new Client(rec.address, creds, {
        "grpc.use_local_subchannel_pool": 1,
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 5_000,
        "grpc.keepalive_permit_without_calls": 1,
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 1_000,
      });
      const old = upstream;
      upstream = { client, ends, address: rec.address, epoch: rec.epoch, madeAt: now() };
      old?.client.close();
      old?.ends.close();
      watchEnds(upstream);
      log.info("replica: forwarding to the active daemon", { replicaId, active: rec.address, writerEpoch: rec.epoch });
    };
    const health = new HealthImplementation({ "": "NOT_SERVING" });
    const poll = async () => {
      try {
        const rec = (await store.get(CLUSTER_TABLE, "active")) as ActiveRecord | undefined;
        if (rec && (!upstream || upstream.address !== rec.address || upstream.epoch !== rec.epoch || now() - upstream.madeAt > REPLICA_CERT_RENEW_MS)) await connect(rec);
      } catch (err) {
        log.debug("replica: reading the active daemon's address failed", { error: describe(err) });
      }
      // Serving while the active daemon answers that it serves: not while the way to it is down,
      // nor while it says NOT_SERVING itself (its database does not answer, say).
      health.setStatus("", upstream && (await activeServes(upstream.client)) ? "SERVING" : "NOT_SERVING");
    };
    await poll();
    const timer = setInterval(() => void poll(), ACTIVE_POLL_MS);
    timer.unref();
    cleanups.push(() => {
      clearInterval(timer);
      upstream?.client.close();
      upstream?.ends.close();
      upstream = undefined;
    });
    const to = () => upstream?.client;

    const svc = services();
    const nodeServer = new Server({ ...NODE_SERVER_OPTIONS });
    for (const name of ["Pairing", "Node", "Orchestrator"] as const) {
      const def = opaque(svc[name].service);
      nodeServer.addService(def, forwardingService(def, to, "tls", streams));
    }
    health.addToServer(nodeServer);
    cachePeerCertificates();
    const listener = new TlsListener({
      caPem: ca.certPem,
      certPem: server.certPem,
      keyPem: server.keyPem.expose(),
      injector: nodeServer.createConnectionInjector(ServerCredentials.createInsecure()),
      limits: resolveListenerLimits({ ...config.listenerLimits }),
      log,
    });
    cleanups.push(async () => {
      const closed = listener.close();
      await shutdown(nodeServer);
      listener.destroyConnections();
      await closed;
    });
    let port: number;
    try {
      port = await listener.listen(config.listenHost, config.listenPort);
    } catch (cause) {
      throw new DaemonError("LISTEN_FAILED", `cannot listen on ${formatHostPort(config.listenHost, config.listenPort)}: ${(cause as Error).message}`, { cause });
    }

    const adminSocket = join(config.dataDir, ADMIN_SOCKET_NAME);
    if (existsSync(adminSocket)) unlinkSync(adminSocket); // stale: this data directory is ours
    const adminServer = new Server({ "grpc.max_receive_message_length": MAX_ADMIN_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_ADMIN_MESSAGE_BYTES });
    for (const name of ["Admin", "Orchestrator"] as const) {
      const def = opaque(svc[name].service);
      adminServer.addService(def, forwardingService(def, to, "admin-socket"));
    }
    health.addToServer(adminServer);
    const oldUmask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => adminServer.bindAsync(`unix://${adminSocket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    } finally {
      process.umask(oldUmask);
    }
    cleanups.push(async () => {
      await shutdown(adminServer);
      if (existsSync(adminSocket)) unlinkSync(adminSocket);
    });
    const listen = clusterAddress(config.listenHost, port);
    log.info("replica listening", { replicaId, listen: formatHostPort(config.listenHost, port), store: where, active: upstream?.address ?? null });
    let closing: Promise<void> | undefined;
    return {
      replicaId,
      listen: formatHostPort(config.listenHost, port),
      port,
      adminSocket,
      caFingerprint: ca.fingerprint,
      active: () => upstream?.address,
      close: () => {
        closing ??= (async () => {
          log.info("replica stopping", { replicaId, listen });
          await closeAll();
        })();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    if (err instanceof PgStoreError) throw pgOpenFailure(err, where, PgStoreError);
    throw err;
  }
}

/** The active daemon's own answer to grpc.health.v1.Health/Check (service ""), within a poll's time: true for SERVING. */
function activeServes(client: Client): Promise<boolean> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      () => Buffer.alloc(0), // HealthCheckRequest{service: ""}: every field at its default
      (b: Buffer) => b,
      {},
      new Metadata(),
      { deadline: Date.now() + ACTIVE_POLL_MS - 100 },
      // HealthCheckResponse{status = 1}: the varint after tag 0x08; SERVING is 1
      (err, res) => resolve(!err && res !== undefined && res[0] === 0x08 && res[1] === 1),
    );
  });
}
