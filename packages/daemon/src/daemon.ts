/**
 * The composition root: checks the CA's files (making them only in an empty data directory),
 * opens the store (which locks the data directory), loads the CA, and serves the Pairing
 * service on the TLS listener and the Admin service on the Unix socket. Nothing imports this
 * package except the CLI's `daemon` command and tests.
 */
import { chmodSync, existsSync, mkdirSync, statSync, unlinkSync } from "node:fs";
import { X509Certificate, randomBytes as nodeRandomBytes, randomFillSync } from "node:crypto";
import { join } from "node:path";
import { Server, ServerCredentials, loadPackageDefinition, status as grpcStatus } from "@grpc/grpc-js";
import { DEFAULT_NODE_CERT_LIFETIME_MS, certFingerprint } from "@tether/ca";
import { createSealer, jwkOf } from "@tether/crypto";
import { AUDIT_TABLES, AuditEvent, AuditLog } from "@tether/audit";
import type { AuditTables } from "@tether/audit";
import { JOB_TABLES, JobManager } from "@tether/jobs";
import type { JobConfig, JobTables } from "@tether/jobs";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { PAIRING_TABLES, PairingManager } from "@tether/pairing";
import type { PairingConfig, PairingTables } from "@tether/pairing";
import { MAX_ADMIN_MESSAGE_BYTES, MAX_NODE_MESSAGE_BYTES, packageVersion, tetherPackageDefinition } from "@tether/wire";
import { loadAuthority, serverHosts } from "./authority.js";
import { openDaemonStore } from "./stores.js";
import { CLUSTER_TABLE, clusterAddress } from "./cluster.js";
import type { ClusterTables } from "./cluster.js";
import { ForwardedCalls, forwardable } from "./forwarded.js";
import { CLUSTER_SERVICE, StreamEnds } from "./stream-ends.js";
import { openWebhooks } from "./webhooks.js";
import { webhooksAdmin } from "./services/webhooks-admin.js";
import { ConsoleHost } from "./console.js";
import { consoleAdmin } from "./services/console-admin.js";
import { WEBHOOK_TABLES } from "@tether/webhooks";
import type { WebhookTables } from "@tether/webhooks";
import type { Repository } from "@tether/base";
import type { ForwardOrigin } from "./forward.js";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { DaemonConfig, LiveConfig } from "./config.js";
import { ADMIN_SOCKET_NAME, JOB_RETENTION_SWEEP_MS, formatHostPort, parseHostPort } from "./config.js";
import { DaemonError, STORE_FAILED, describe, startFailure, storeDamaged } from "./errors.js";
import { DATABASE_CHECK_INTERVAL_MS } from "./readiness.js";
import { StoreHealth } from "./health.js";
import type { LevelLogger, LogLevel, Logger } from "./log.js";
import { Probes, certWindowOf, serveReflection } from "./probes.js";
import type { Readiness } from "./readiness.js";
import { createLogger } from "./log.js";
import { DeviceIndex } from "./auth.js";
import type { DaemonMetrics, MetricsServer, RefusalStage } from "./metrics.js";
import { NodeHub } from "./hub.js";
import { adminService } from "./services/admin.js";
import { nodeService } from "./services/node.js";
import { orchestratorService } from "./services/orchestrator.js";
import { TlsListener, cachePeerCertificates, resolveListenerLimits } from "./tls.js";
import type { ListenerLimits } from "./tls.js";
import { CRL_REFRESH_MS, Revocations } from "./crl.js";
import { DEFAULT_START_RATE_LIMIT } from "./ratelimit.js";
import type { RateLimit } from "./ratelimit.js";
import { pairingGuard, pairingService } from "./services/pairing.js";

/** The daemon's software version (Admin.Status, tether_build_info): the package's. */
export const VERSION = packageVersion();

/** Every table of the daemon's store (its open, `tether store check` and `repair`). */
export const STORE_TABLES = [...PAIRING_TABLES, ...JOB_TABLES, ...AUDIT_TABLES, ...WEBHOOK_TABLES] as const;

/**
 * The daemon's randomness: the platform CSPRNG, drawn 4 KiB at a time (one call instead of
 * one per job id or nonce, which showed in the dispatch profile). Every answer is a copy.
 */
function pooledRandom(size = 4096): (n: number) => Uint8Array {
  const pool = Buffer.alloc(size);
  let used = size;
  return (n) => {
    if (n > size) return new Uint8Array(nodeRandomBytes(n));
    if (used + n > size) {
      randomFillSync(pool);
      used = 0;
    }
    const out = new Uint8Array(pool.subarray(used, used + n)); // a copy
    pool.fill(0, used, used + n); // nothing drawn stays readable in the pool
    used += n;
    return out;
  };
}
/** How often the daemon checks its own server and signer certificates for renewal. */
export const CERT_CHECK_INTERVAL_MS = 60 * 60_000;
/** How often coalesced refusals whose window has ended are written. */
export const REFUSAL_FLUSH_INTERVAL_MS = 1_000;

export type RunningDaemon = {
  /** host:port actually bound (the port is real even when 0 was asked for) */
  listen: string;
  advertise: string;
  adminSocket: string;
  caFingerprint: string;
  caPem: string;
  /** host:port the metrics server is bound to (with --metrics; the port is real even when 0 was asked for) */
  metrics?: string;
  pairing: PairingManager;
  jobs: JobManager;
  hub: NodeHub;
  /**
   * Apply a new configuration's live settings (SIGHUP, in `tether daemon`): the Pairing
   * budgets, the listener's caps, the log level (when the logger has setLevel). An absent
   * value means the default again. Returns what changed, from and to; nothing else changes
   * (the listen address, the data directory and the rest need a restart).
   */
  reload(next: LiveConfig & { logLevel?: LogLevel }): ReloadResult;
  /**
   * Ready or not, and why (readiness.ts): what the health service answers, for `/readyz`.
   * Ready while the store is writable and the CA, server and signer certificates are valid.
   */
  readiness(): Readiness;
  /** Renew the server and signer certificates if they near expiry (or now, with force). */
  checkCertificates(force?: boolean): Promise<{ server: boolean; signer: boolean }>;
  /**
   * Stop: logs `daemon stopping` with `reason` (e.g. "SIGTERM") and what it closes, closes it
   * all (a step that fails is logged and the rest still run), then logs `daemon stopped` with
   * the uptime. Later calls return the first one's promise.
   */
  close(reason?: string): Promise<void>;
};

/** What a reload changed, by what it is: logLevel, pairingRateLimit, listenerLimits. */
export type ReloadResult = { applied: Record<string, { from: unknown; to: unknown }> };

type Services = Record<"Pairing" | "Admin" | "Node" | "Orchestrator", { service: ServiceDefinition }>;

/** The daemon's gRPC services (replica.ts forwards each). */
export function services(): Services {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: Services } };
  return pkg.tether.v1;
}

function bind(server: Server, address: string, creds: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

/** Graceful stop with a bound: open streams get one second, then are cancelled. */
/** The node listener's gRPC server options (a replica's too): message sizes, and HTTP/2 pings that find a dead TCP peer within 20 s + 10 s (docs/operations.md, heartbeats). */
export const NODE_SERVER_OPTIONS = {
  "grpc.max_receive_message_length": MAX_NODE_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_NODE_MESSAGE_BYTES,
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_ping_interval_without_data_ms": 5_000,
} as const;

export function shutdown(server: Server): Promise<void> {
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
  o: {
    log?: Logger;
    now?: () => number;
    pairing?: Partial<PairingConfig>;
    jobs?: Partial<JobConfig>;
    registrationTimeoutMs?: number;
    idleTimeoutMs?: number;
    /**
     * Per-address budgets of the Pairing service (default DEFAULT_START_RATE_LIMIT): one
     * bucket of this size for Starts, another for refused Pairing calls of any kind.
     */
    startRateLimit?: RateLimit;
    /** the node listener's handshake timeout and connection caps (defaults: tls.ts); config.listenerLimits wins */
    listener?: Partial<ListenerLimits>;
    /** the window over which refused pairing calls are coalesced into one audit entry */
    refusalWindowMs?: number;
    certCheckIntervalMs?: number;
    /** Tests only: delay every device-index update by this long, to show nothing relies on its timing. */
    indexUpdateDelayMs?: number;
    /** Tests only: how long a renewed device's previous certificate stays accepted (default RENEWAL_OVERLAP_MS). */
    renewalOverlapMs?: number;
    /**
     * called when the daemon can no longer trust its state (a failed store write); it then
     * refuses every call but Admin.Status until restarted
     */
    onFatal?: (err: Error) => void;
    /** called just before the node listener and the admin socket are bound (a replica taking over closes its own) */
    beforeListen?: () => Promise<void>;
  } = {},
): Promise<RunningDaemon> {
  const log = o.log ?? createLogger();
  const now = o.now ?? Date.now;
  prepareDataDir(config.dataDir);
  const opened = await openDaemonStore<PairingTables & JobTables & AuditTables & ClusterTables>(config, STORE_TABLES, now(), () =>
    log.info("standby: another daemon holds the database; this one takes over when it is gone", { dataDir: config.dataDir }),
  );
  const { store, keys } = opened;
  if (config.postgres?.standby) log.info("standby: the writer lock is this daemon's now; loading the state from the database", { dataDir: config.dataDir });
  if (keys.created) log.info("root CA created", { store: opened.where, caFingerprint: keys.ca.fingerprint });
  const health = new StoreHealth(store, now);
  /** PostgreSQL: whether the last check reached the database (health answers NOT_SERVING while it does not) */
  let databaseDown = false;
  let started = false;
  /** readiness.ts's answer, through the health service's Probes, once they exist */
  let decided: (() => Readiness) | undefined;
  /**
   * What /readyz and tether_ready answer: "starting" until the daemon is ready, then the
   * health service's own answer (readiness.ts), so the two never disagree.
   */
  const readiness = (): Readiness => (started && decided ? decided() : { ready: false, reason: "the daemon is starting" });
  /** timers that write to the store: stopped when it fails */
  const background: NodeJS.Timeout[] = [];
  /** what a stop undoes, last first; `what` names the steps the stop lines list (timers have none) */
  const cleanups: { what?: string; run: () => Promise<void> | void }[] = [{ what: "store", run: () => store.close() }];
  const timer = (t: NodeJS.Timeout) => cleanups.push({ run: () => clearInterval(t) });
  /** Run every cleanup, last first, whatever fails; resolves with the first failure. */
  const closeAll = async (): Promise<unknown> => {
    let failed: unknown;
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c.run();
      } catch (err) {
        failed ??= err;
        log.error("closing failed", { what: c.what ?? "timer", error: describe(err) });
      }
    }
    return failed;
  };
  let metrics: DaemonMetrics | undefined;
  let metricsServer: MetricsServer | undefined;
  try {
    if (config.metrics) {
      // Served from the start (not ready until the daemon is) and stopped just before the
      // store closes, so /readyz says "starting" and "stopping" while those take time.
      const m = await import("./metrics.js");
      metrics = new m.DaemonMetrics({ version: VERSION, readiness });
      const mm = metrics;
      store.onCommit((seconds, durable) => mm.storeCommitted(seconds, durable));
      const { host, port } = config.metrics;
      try {
        metricsServer = await m.serveMetrics({ host, port, metrics, readiness, log });
      } catch (cause) {
        throw new DaemonError("LISTEN_FAILED", `cannot serve metrics on ${formatHostPort(host, port)}: ${(cause as Error).message}`, { cause });
      }
      const served = metricsServer;
      cleanups.push({ what: "metrics server", run: () => served.close() });
      if (!m.isLoopback(host)) {
        log.warn("metrics are served without authentication on an address other machines may reach; bind them to loopback or firewall the port", { metrics: served.address });
      }
    }
    const refusedAt = (stage: RefusalStage) => (reason: string) => metrics?.handshakeRefused(stage, reason);
    const advertiseHost = config.advertise ? parseHostPort(config.advertise).host : undefined;
    // With the store's lock held: only one daemon re-issues the server and signer certificates.
    const authority = await loadAuthority(keys, {
      hosts: serverHosts(config.listenHost, advertiseHost),
      now: now(),
      onReissue: (file, reason) => log.warn("daemon certificate re-issued", { file, reason }),
      ...(config.nodeCertLifetimeMs ? { nodeCertLifetimeMs: config.nodeCertLifetimeMs } : {}),
    });

    // The health service's status (probes.ts): the store, the certificates, and a stop.
    const windowOf = certWindowOf();
    const probes = new Probes({
      now,
      storeFailed: () => health.failed,
      databaseDown: () => databaseDown,
      certs: () => [windowOf("CA", authority.caPem), windowOf("server", authority.serverCertPem), windowOf("signer", authority.signerCertDer)],
      log,
    });
    decided = () => probes.readiness();

    let listen = "";
    let advertise = config.advertise ?? "";
    const random = pooledRandom();
    // Everything the core packages write goes through the audit log, so each security event
    // is committed in the same atomic batch as the change it records.
    // Webhook events go into the outbox in the same batch as the change (webhooks.ts).
    const webhooks = openWebhooks(config.webhooks, store as unknown as Repository<WebhookTables>, {
      now,
      log,
      nodeCertLifetimeMs: config.nodeCertLifetimeMs ?? DEFAULT_NODE_CERT_LIFETIME_MS,
    });
    const audit = new AuditLog<PairingTables & JobTables>(store, now, webhooks ? { alongside: webhooks.alongside as never } : {});
    if (webhooks) {
      audit.onAppend(() => webhooks.kick());
      cleanups.push({ what: "webhooks", run: () => webhooks.stop() });
      webhooks.start(); // what an earlier run left in the outbox goes out now
    }
    if (metrics) {
      const mm = metrics;
      audit.onAppend((entries) => mm.auditAppended(entries));
    }
    const head = await audit.checkHead();
    if (!head.ok) throw storeDamaged(config.dataDir, [{ message: `audit log: ${head.reason}` }]);
    if (head.last?.type === AuditEvent.StoreRepaired) {
      log.warn("the store was repaired; what the repair dropped or reset", { auditEntry: head.last.seq, at: new Date(head.last.time).toISOString(), ...head.last.details });
    }
    const pairing = new PairingManager({
      repo: audit,
      ca: authority,
      clock: { now },
      randomBytes: random,
      advertise: () => advertise,
      sealer: createSealer(authority.sealKey.expose(), random),
      ...(o.pairing || config.returnGraceMs !== undefined
        ? { config: { ...(config.returnGraceMs !== undefined ? { returnGraceMs: config.returnGraceMs } : {}), ...o.pairing } }
        : {}),
    });
    if (metrics) {
      const mm = metrics;
      pairing.onOutcome((r) => mm.pairingOutcome(r));
    }
    const index = new DeviceIndex(now, o.renewalOverlapMs);
    let jobs: JobManager | undefined;
    let revocations: Revocations | undefined;
    /** On PostgreSQL: ends of forwarded streams, told to the replicas first (stream-ends.ts) */
    let streamEnds: StreamEnds | undefined;
    const hub = new NodeHub({
      onEndForwarded: (call, code, details) => streamEnds?.end(call, code, details),
      crl: () => revocations?.current(),
      index,
      pairing,
      jobs: () => jobs as JobManager,
      log,
      now,
      ...(o.registrationTimeoutMs ? { registrationTimeoutMs: o.registrationTimeoutMs } : {}),
      ...(o.idleTimeoutMs ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
      ...(o.indexUpdateDelayMs ? { indexUpdateDelayMs: o.indexUpdateDelayMs } : {}),
      ...(metrics ? { onRefused: refusedAt("node") } : {}),
    });
    if (webhooks) {
      const watchTimer = webhooks.watch(function* () {
        for (const d of hub.devices()) {
          const live = hub.node(d.id);
          yield {
            id: d.id,
            name: d.name,
            online: live?.online ?? false,
            lastSeen: live?.lastSeen ?? 0,
            revoked: Boolean(d.revokedAt),
            certificateFingerprint: d.certificateFingerprint,
            certificateNotAfter: d.certificateNotAfter,
          };
        }
      });
      background.push(watchTimer);
      timer(watchTimer);
    }
    const jobConfig = { ...(config.jobRetentionMs !== undefined ? { finishedRetentionMs: config.jobRetentionMs } : {}), ...o.jobs };
    jobs = new JobManager({ repo: audit, directory: hub, clock: { now }, randomBytes: random, config: jobConfig });
    if (metrics) {
      const mm = metrics;
      jobs.on("finished", (j) => mm.jobFinished(j));
    }
    store.onFailure((err) => {
      // Memory and disk may disagree now: refuse everything (health.ts) until a restart
      // reloads the truth from disk.
      log.error("store write failed; refusing every call until the daemon is restarted", { error: describe(err) });
      for (const t of background) clearInterval(t);
      for (const d of hub.devices()) hub.endStreams(d.id, grpcStatus.UNAVAILABLE, STORE_FAILED.details);
      probes.refresh(); // NOT_SERVING, to every Watch stream at once
      o.onFatal?.(err);
    });
    await pairing.load();
    await hub.start(); // the device cache first: loading jobs asks which devices are revoked
    const loaded = await jobs.load();
    revocations = new Revocations(authority.ca, index, (id) => hub.device(id), now);
    const jwks = { keys: [jwkOf(authority.tokenPublicKey)] };
    await revocations.load(hub.devices());
    revocations.onChange((crl) => hub.broadcastCrl(crl));
    pairing.onDevice((dev) => {
      revocations?.update(dev).catch((err: unknown) => log.error("CRL update failed", { error: describe(err) }));
    });
    const crlTimer = setInterval(() => {
      revocations?.regenerate().catch((err: unknown) => log.error("CRL refresh failed", { error: describe(err) }));
    }, CRL_REFRESH_MS);
    crlTimer.unref();
    background.push(crlTimer);
    timer(crlTimer);
    cleanups.push({
      what: "node hub and job queue",
      run: () => {
        hub.stop();
        jobs?.close();
      },
    });
    if (loaded.requeued || loaded.timedOut) log.info("unfinished jobs recovered", loaded);
    // Refused pairing calls: per-address budgets, and audit entries coalesced per window. The
    // counts still pending are written once the node listener has stopped (cleanups run in
    // reverse), before the store closes.
    const defaultRateLimit = o.startRateLimit ?? DEFAULT_START_RATE_LIMIT;
    const guard = pairingGuard({
      limit: config.pairingRateLimit ?? defaultRateLimit,
      now,
      trail: audit,
      ...(o.refusalWindowMs ? { windowMs: o.refusalWindowMs } : {}),
      ...(metrics ? { onRefused: refusedAt("pairing"), onStarted: () => metrics?.handshakeStarted() } : {}),
    });
    const flushRefusals = (all: boolean) =>
      (all ? guard.audit.flushAll() : guard.audit.flushDue()).catch((err: unknown) => log.error("writing coalesced refusals failed", { error: describe(err) }));
    const refusalTimer = setInterval(() => void flushRefusals(false), REFUSAL_FLUSH_INTERVAL_MS);
    refusalTimer.unref();
    cleanups.push({
      what: "pending refusal counts (audit)",
      run: async () => {
        clearInterval(refusalTimer);
        await flushRefusals(true);
      },
    });
    const svc = services();
    const startedAt = now();

    // Node listener: TLS with the daemon's server certificate. Pairing needs no client
    // certificate; the handshake authenticates both sides (docs/protocol.md).
    const nodeServer = new Server({ interceptors: [health.interceptor()], ...NODE_SERVER_OPTIONS });
    const pairingImpl = pairingService(pairing, authority.caCertDer, log, guard);
    const nodeImpl = nodeService({ hub, index, pairing, revocations, authority, jwks, now, log, random });
    const orchestratorTls = orchestratorService({ jobs, hub, index, now, log, mode: "tls" });
    /** On PostgreSQL, what the admin socket serves, for calls replicas forward from theirs (filled below) */
    const forwardedAdmin: Record<"Admin" | "Orchestrator", Partial<Record<ForwardOrigin, UntypedServiceImplementation>>> = { Admin: {}, Orchestrator: { tls: orchestratorTls } };
    if (opened.kind === "postgresql") {
      // Replicas forward every call here (forward.ts); forwarded.ts checks who forwarded it.
      const fw = new ForwardedCalls(authority.caCertDer, now);
      streamEnds = new StreamEnds(fw);
      nodeServer.addService(CLUSTER_SERVICE, streamEnds.service());
      nodeServer.addService(svc.Pairing.service, forwardable(svc.Pairing.service, { tls: pairingImpl }, fw));
      nodeServer.addService(svc.Node.service, forwardable(svc.Node.service, { tls: nodeImpl }, fw));
      nodeServer.addService(svc.Orchestrator.service, forwardable(svc.Orchestrator.service, forwardedAdmin.Orchestrator, fw));
      nodeServer.addService(svc.Admin.service, forwardable(svc.Admin.service, forwardedAdmin.Admin, fw));
    } else {
      nodeServer.addService(svc.Pairing.service, pairingImpl);
      nodeServer.addService(svc.Node.service, nodeImpl);
      nodeServer.addService(svc.Orchestrator.service, orchestratorTls);
    }
    // Health answers without a client certificate, as Pairing does (tls.ts requests one, never
    // requires it): a status only. Reflection only when asked for (docs/security.md, row 51).
    probes.serveHealth(nodeServer, "listener");
    if (config.reflection) serveReflection(nodeServer, "listener");
    cachePeerCertificates();
    // The daemon owns the TLS server (tls.ts) and gives grpc-js each connection once its
    // handshake is complete: grpc-js sees a TLS socket, so peer certificates work as before.
    const listener = new TlsListener({
      caPem: authority.caPem,
      certPem: authority.serverCertPem,
      keyPem: authority.serverKeyPem.expose(),
      injector: nodeServer.createConnectionInjector(ServerCredentials.createInsecure()),
      limits: resolveListenerLimits({ ...o.listener, ...config.listenerLimits }),
      log,
      ...(metrics ? { onRefused: refusedAt("tls") } : {}),
    });
    cleanups.push({
      what: "node listener",
      run: async () => {
        const closed = listener.close();
        await shutdown(nodeServer);
        listener.destroyConnections();
        await closed;
      },
    });
    await o.beforeListen?.();
    let port: number;
    try {
      port = await listener.listen(config.listenHost, config.listenPort);
    } catch (cause) {
      throw new DaemonError("LISTEN_FAILED", `cannot listen on ${formatHostPort(config.listenHost, config.listenPort)}: ${(cause as Error).message}`, { cause });
    }
    listen = formatHostPort(config.listenHost, port);
    if (!advertise) {
      const wildcard = config.listenHost === "0.0.0.0" || config.listenHost === "::";
      advertise = formatHostPort(wildcard ? "127.0.0.1" : config.listenHost, port);
      if (wildcard) {
        log.warn("listening on all interfaces without --advertise: QR codes will carry 127.0.0.1, which other machines cannot reach", { advertise });
      }
    }

    // Admin socket: only the data directory's owner can reach it (0700 folder, 0600 socket).
    const adminSocket = join(config.dataDir, ADMIN_SOCKET_NAME);
    if (existsSync(adminSocket)) unlinkSync(adminSocket); // stale: we hold the store's lock
    const adminServer = new Server({
      interceptors: [health.interceptor()],
      "grpc.max_receive_message_length": MAX_ADMIN_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_ADMIN_MESSAGE_BYTES,
    });
    const status = () => {
      const st = health.view();
      return {
        version: VERSION,
        listen,
        advertise,
        caFingerprint: authority.caFingerprint,
        dataDir: config.dataDir,
        startedAt,
        storeState: st.state,
        storeError: st.error,
        storeSince: st.since,
        store: opened.where,
        writerEpoch: opened.writerEpoch,
        schemaVersion: opened.schemaVersion,
      };
    };
    const rotateDaemonCertificates = async () => {
      await checkCertificates(true);
      const server = new X509Certificate(authority.serverCertPem);
      const signer = new X509Certificate(authority.signerCertDer);
      return {
        serverFingerprint: certFingerprint(server.raw),
        serverNotAfter: Date.parse(server.validTo),
        signerFingerprint: certFingerprint(signer.raw),
        signerNotAfter: Date.parse(signer.validTo),
      };
    };
    const consoleHost = new ConsoleHost({
      ...config.console,
      adminSocket,
      serverCertificate: () => ({ certPem: authority.serverCertPem, keyPem: authority.serverKeyPem.expose() }),
      certificateHosts: serverHosts(config.listenHost, advertiseHost),
      advertiseHost: parseHostPort(advertise).host,
      now,
      random,
      log,
    });
    const adminImpl = {
      ...consoleAdmin(consoleHost, log),
      ...adminService(pairing, status, log, { hub, jobs, now, audit, beforeAuditRead: () => guard.audit.flushAll(), revocations, jwks, rotateDaemonCertificates }),
      ...webhooksAdmin(store as unknown as Repository<WebhookTables>, webhooks, { now, log }),
    };
    const orchestratorLocal = orchestratorService({ jobs, hub, index, now, log, mode: "local" });
    adminServer.addService(svc.Admin.service, adminImpl);
    adminServer.addService(svc.Orchestrator.service, orchestratorLocal);
    forwardedAdmin.Admin["admin-socket"] = adminImpl;
    forwardedAdmin.Orchestrator["admin-socket"] = orchestratorLocal;
    probes.serveHealth(adminServer, "socket");
    serveReflection(adminServer, "socket");
    const oldUmask = process.umask(0o177);
    try {
      await bind(adminServer, `unix://${adminSocket}`, ServerCredentials.createInsecure());
    } finally {
      process.umask(oldUmask);
    }
    chmodSync(adminSocket, 0o600);
    cleanups.push({ what: "admin server", run: () => shutdown(adminServer) });
    cleanups.push({ what: "console", run: () => consoleHost.close() });
    cleanups.push({
      what: "admin socket",
      run: () => {
        if (existsSync(adminSocket)) unlinkSync(adminSocket);
      },
    });
    if (opened.kind === "postgresql") {
      // Serving now: replicas forward here from this moment (cluster.ts, replica.ts).
      await store.batch([
        { table: CLUSTER_TABLE, type: "put", value: { id: "active", address: clusterAddress(config.listenHost, port), epoch: opened.writerEpoch, since: now() } },
      ]);
    }

    // Live rotation of the daemon's own certificates: new connections get the new server
    // certificate, open streams keep theirs; pairing signs with the new signer at once.
    const checkCertificates = async (force = false) => {
      const r = await authority.refresh(now(), force);
      if (r.server) {
        listener.rotate(authority.serverCertPem, authority.serverKeyPem.expose());
        consoleHost.rotate();
      }
      if (r.server || r.signer) {
        probes.refresh();
        log.info("daemon certificates renewed", r);
        await audit.append(AuditEvent.DaemonCertificatesRotated, force ? "admin" : "daemon", "daemon", r);
      }
      return r;
    };
    const certTimer = setInterval(() => {
      checkCertificates().catch((err: unknown) => log.error("certificate renewal failed", { error: describe(err) }));
    }, o.certCheckIntervalMs ?? CERT_CHECK_INTERVAL_MS);
    certTimer.unref();
    background.push(certTimer);
    timer(certTimer);

    const sweeper = setInterval(() => {
      pairing.sweep().catch((err: unknown) => log.error("sweep failed", { error: describe(err) }));
    }, config.sweepIntervalMs);
    // Finished jobs past their retention, a batch at a time, so a big backlog never stalls work.
    let retaining = false;
    const retention = setInterval(() => {
      if (retaining) return;
      retaining = true;
      (async () => {
        let deleted = 0;
        for (let more = true; more;) {
          const r = await (jobs as JobManager).sweepFinished();
          deleted += r.deleted;
          more = r.more;
          if (more) await new Promise((res) => setImmediate(res));
        }
        if (deleted) log.info("finished jobs past retention deleted", { deleted });
      })()
        .catch((err: unknown) => log.error("job retention sweep failed", { error: describe(err) }))
        .finally(() => (retaining = false));
    }, JOB_RETENTION_SWEEP_MS);
    retention.unref();
    background.push(retention);
    timer(retention);
    sweeper.unref();
    background.push(sweeper);
    timer(sweeper);

    if (metrics && revocations) {
      const crl = revocations;
      metrics.attach({
        now,
        onlineCount: () => hub.onlineCount(),
        devices: () => hub.devices(),
        jobs,
        pairing,
        revocations: crl,
        certificates: () => ({
          ca: authority.ca.notAfter,
          server: windowOf("server", authority.serverCertPem).notAfter,
          signer: windowOf("signer", authority.signerCertDer).notAfter,
        }),
      });
    }
    if (store.ping) {
      // Health follows the database: NOT_SERVING while it does not answer, SERVING again when it does.
      const ping = store.ping.bind(store);
      let checking = false;
      const dbTimer = setInterval(() => {
        if (checking) return;
        checking = true;
        void ping(DATABASE_CHECK_INTERVAL_MS)
          .then((up) => {
            if (up === !databaseDown) return;
            databaseDown = !up;
            if (up) log.info("the database answers again", { store: opened.where });
            else log.error("the database does not answer; health is NOT_SERVING until it does", { store: opened.where });
            probes.refresh();
          })
          .finally(() => (checking = false));
      }, DATABASE_CHECK_INTERVAL_MS);
      dbTimer.unref();
      timer(dbTimer);
    }
    probes.start();
    started = true;
    log.info("daemon ready", {
      listen,
      advertise,
      adminSocket,
      caFingerprint: authority.caFingerprint,
      dataDir: config.dataDir,
      store: opened.where,
      listener: listener.limits,
      ...(metricsServer ? { metrics: metricsServer.address } : {}),
    });
    let closing: Promise<void> | undefined;
    const stop = async (reason: string) => {
      // NOT_SERVING first, before any server drains: probes and watchers hear it while they can.
      probes.stopping();
      const steps = cleanups.flatMap((c) => (c.what ? [c.what] : [])).reverse();
      log.info("daemon stopping", { reason, nodesOnline: hub.onlineCount(), closing: steps });
      const failed = await closeAll();
      log.info("daemon stopped", { reason, uptimeMs: now() - startedAt });
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the first cleanup failure, rethrown as it was caught
      if (failed) throw failed;
    };
    const reload = (next: LiveConfig & { logLevel?: LogLevel }): ReloadResult => {
      const applied: ReloadResult["applied"] = {};
      const limit = next.pairingRateLimit ?? defaultRateLimit;
      const was = guard.start.limit;
      if (limit.burst !== was.burst || limit.perSecond !== was.perSecond) {
        guard.start.setLimit(limit);
        guard.refusals.setLimit(limit);
        applied.pairingRateLimit = { from: was, to: limit };
      }
      const before = listener.limits;
      const limits = resolveListenerLimits({ ...o.listener, ...next.listenerLimits, handshakeTimeoutMs: before.handshakeTimeoutMs });
      if ((["maxConnections", "maxHandshakes", "maxHandshakesPerAddress"] as const).some((k) => limits[k] !== before[k])) {
        listener.setLimits(limits);
        applied.listenerLimits = { from: before, to: listener.limits };
      }
      const levels = log as Partial<LevelLogger>;
      if (next.logLevel && levels.setLevel && levels.level !== next.logLevel) {
        applied.logLevel = { from: levels.level, to: next.logLevel };
        levels.setLevel(next.logLevel);
      }
      return { applied };
    };
    return {
      listen,
      advertise,
      adminSocket,
      caFingerprint: authority.caFingerprint,
      caPem: authority.caPem,
      ...(metricsServer ? { metrics: metricsServer.address } : {}),
      pairing,
      jobs,
      hub,
      checkCertificates,
      reload,
      readiness: () => probes.readiness(),
      close: (reason = "requested") => (closing ??= stop(reason)),
    };
  } catch (err) {
    await closeAll();
    throw startFailure(config.dataDir, err);
  }
}
