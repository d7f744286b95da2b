/**
 * The node hub: the registry of connected nodes and the Node.Connect stream handler. It
 * authenticates each stream, waits a bounded time for registration, delivers jobs up to the
 * node's in-flight limit, applies updates and results, answers pings, and ends streams when
 * their device is revoked. It also answers the job queue's questions about devices.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { clip } from "@tether/base";
import { isDeviceId } from "@tether/crypto";
import type { Ignored, JobManager, JobRecord, NodeDirectory } from "@tether/jobs";
import { presenceWorthWriting } from "@tether/pairing";
import type { CapabilityInfo, DeviceRecord, PairingManager } from "@tether/pairing";
import type { DaemonMessageInit, NodeInfo, NodeMessage } from "@tether/wire";
import type { DeviceIndex, Peer } from "./auth.js";
import { wireCrl } from "./crl.js";
import type { SignedCrl } from "./crl.js";
import { authenticate } from "./auth.js";
import { DaemonError, describe, toServiceError } from "./errors.js";
import { notADeviceId } from "./ids.js";
import type { Logger } from "./log.js";
import { peerOf } from "./services/rpc.js";
import { forwardedVia } from "./forwarded.js";

export const REGISTRATION_TIMEOUT_MS = 10_000;
export const HEARTBEAT_MS = 10_000;
/** A node that sends nothing (not even a ping) for this long is dropped. */
export const IDLE_TIMEOUT_MS = 3 * HEARTBEAT_MS;
export const MAX_CAPABILITIES = 64;
/** Streams written per event-loop turn when a new CRL is pushed to every node. */
export const CRL_PUSH_CHUNK = 200;
/**
 * CRL pushes start at least this far apart. A burst of revocations then sends its newest CRL
 * once instead of one CRL each: a push to 1,000 nodes is 1,000 TLS writes of a CRL that grows
 * with every serial, and back to back they held the next revocation's call behind them (p99
 * from the call 62 ms instead of 14 ms on a slow machine). Nodes learn of a revocation from a
 * CRL at most this much later; the daemon itself refuses the certificate at once (fleet.md §5.1).
 */
export const CRL_PUSH_INTERVAL_MS = 100;

type Call = ServerDuplexStream<NodeMessage, DaemonMessageInit>;

type Session = {
  id: number;
  call: Call;
  peer: Peer;
  /** the caller's address, for log lines (peerOf) */
  address: string;
  /** the replica that forwards this stream (forwarded.ts), if one does */
  via: string | undefined;
  registered: boolean;
  capabilities: string[];
  maxConcurrency: number;
  platform: string;
  version: string;
  connectedAt: number;
  lastSeen: number;
  timer?: NodeJS.Timeout;
  pumping: boolean;
  again: boolean;
  /** set once `registered` was sent: jobs may go out from then on */
  delivering: boolean;
  /** the node sent `drain`: no more jobs go out on this stream (fleet.md §2.4) */
  draining: boolean;
};

/** A node as the registry reports it (the wire's NodeInfo). */
export type NodeView = NodeInfo;

const CAP_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export class NodeHub implements NodeDirectory {
  readonly #index: DeviceIndex;
  readonly #pairing: PairingManager;
  readonly #jobs: () => JobManager;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #registrationTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #crl: () => SignedCrl | undefined;
  readonly #onEndForwarded: (call: Call, code: status, details: string) => void;
  readonly #indexUpdateDelayMs: number;
  readonly #onRefused: (code: string) => void;
  readonly #devices = new Map<string, DeviceRecord>();
  readonly #sessions = new Map<string, Session>();
  /**
   * When each device's last stream ended, in this process: the stored lastSeen is written at
   * most once a minute (PRESENCE_WRITE_INTERVAL_MS), so a device that drops twice within a
   * minute would otherwise look silent since the first drop.
   */
  readonly #endedAt = new Map<string, number>();
  /** devices whose revocation is being written (revokeAhead): refused whatever else changes meanwhile */
  readonly #revoking = new Set<string>();
  /** every authenticated stream, by device, so revocation can end them all */
  readonly #streams = new Map<string, Set<{ end(code: status, details: string): void }>>();
  #seq = 0;
  #crlGeneration = 0;
  /** The newest CRL not yet pushed, and the timer that will start its push. */
  #crlNext: SignedCrl | undefined;
  #crlTimer: NodeJS.Timeout | undefined;
  #crlPushedAt = Number.NEGATIVE_INFINITY;
  #sweeper?: NodeJS.Timeout;

  constructor(o: {
    index: DeviceIndex;
    pairing: PairingManager;
    jobs: () => JobManager;
    log: Logger;
    now: () => number;
    registrationTimeoutMs?: number;
    idleTimeoutMs?: number;
    /** the current signed CRL, sent to each node after it registers */
    crl?: () => SignedCrl | undefined;
    /** tests only: reflect each device change this much later (startDaemon's indexUpdateDelayMs) */
    indexUpdateDelayMs?: number;
    /** told of each stream refused by the certificate check, with its code (the daemon's metrics) */
    onRefused?: (code: string) => void;
    /** told first when a stream a replica forwards is ended here, so that the replica ends it at once (stream-ends.ts) */
    onEndForwarded?: (call: Call, code: status, details: string) => void;
  }) {
    this.#onRefused = o.onRefused ?? (() => undefined);
    this.#onEndForwarded = o.onEndForwarded ?? (() => undefined);
    this.#indexUpdateDelayMs = o.indexUpdateDelayMs ?? 0;
    this.#crl = o.crl ?? (() => undefined);
    this.#index = o.index;
    this.#pairing = o.pairing;
    this.#jobs = o.jobs;
    this.#log = o.log;
    this.#now = o.now;
    this.#registrationTimeoutMs = o.registrationTimeoutMs ?? REGISTRATION_TIMEOUT_MS;
    this.#idleTimeoutMs = o.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  }

  async start(): Promise<void> {
    for (const d of await this.#pairing.listDevices()) this.#reflect(d);
    // The pairing manager waits for this before it sends anything that depends on the change.
    const delay = this.#indexUpdateDelayMs;
    this.#pairing.onDevice((d) => (delay ? sleep(delay).then(() => this.#reflect(d)) : this.#reflect(d)));
    const jobs = this.#jobs();
    jobs.on("queued", (deviceId) => this.#pump(deviceId));
    jobs.on("deliver", (j) => {
      const s = this.#sessions.get(j.deviceId);
      // A stream that ended meanwhile had its delivered jobs put back in the queue. (A job
      // handed out directly just as the node said `drain` is sent all the same: the node
      // does not start it, and it goes back to the queue when the stream ends.)
      if (s?.delivering) this.#sendJob(s, j);
    });
    jobs.on("cancel", ({ deviceId, jobId, reason }) => {
      const s = this.#sessions.get(deviceId);
      if (s?.registered) s.call.write({ cancel: { jobId, reason } });
    });
    this.#sweeper = setInterval(() => this.#dropIdle(), Math.max(250, Math.floor(this.#idleTimeoutMs / 3)));
    this.#sweeper.unref();
  }

  stop(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    if (this.#crlTimer) clearTimeout(this.#crlTimer);
    for (const s of this.#sessions.values()) if (s.timer) clearTimeout(s.timer);
  }

  /** Keep the device cache and the certificate index in step with the store. */
  #reflect(d: DeviceRecord): void {
    this.#devices.set(d.id, d);
    if (d.revokedAt) this.#revoking.delete(d.id);
    // A change written while its revocation is on the way (a renewal that got in first) stays refused.
    this.#index.update(this.#revoking.has(d.id) ? { ...d, revokedAt: this.#now() } : d);
    if (d.revokedAt) this.endStreams(d.id, status.PERMISSION_DENIED, `device ${d.id} has been revoked`);
  }

  /**
   * Revocation first (docs/fleet.md §5.1): before the revocation is even written, refuse the
   * device's certificates and end its streams, so that neither waits behind the store's queue,
   * the pairing mutex or the CRL. Fail-closed: the write follows at once; if it fails, the
   * returned function puts the index back as the store has it.
   */
  revokeAhead(deviceId: string): () => void {
    const d = this.#devices.get(deviceId);
    if (!d || d.revokedAt) return () => undefined;
    this.#revoking.add(deviceId);
    this.#index.update({ ...d, revokedAt: this.#now() });
    this.endStreams(deviceId, status.PERMISSION_DENIED, `device ${deviceId} has been revoked`);
    return () => {
      this.#revoking.delete(deviceId);
      const now = this.#devices.get(deviceId);
      if (now && !now.revokedAt) this.#index.update(now);
    };
  }

  /** The in-flight limit of the device's registered stream, 0 without one or while it drains (NodeDirectory). */
  concurrency(deviceId: string): number {
    const s = this.#sessions.get(deviceId);
    return s?.delivering && !s.draining ? s.maxConcurrency : 0;
  }

  describe(deviceId: string): { exists: boolean; revoked: boolean; capabilities: readonly string[] } | undefined {
    const d = this.#devices.get(deviceId);
    if (!d) return undefined;
    const live = this.#sessions.get(deviceId);
    const capabilities = live?.registered ? live.capabilities : (d.capabilities ?? []).map((c) => c.name);
    return { exists: true, revoked: Boolean(d.revokedAt), capabilities };
  }

  /** Track an authenticated stream so that revoking its device ends it. Returns the untrack function. */
  track(deviceId: string, s: { end(code: status, details: string): void }): () => void {
    let set = this.#streams.get(deviceId);
    if (!set) this.#streams.set(deviceId, (set = new Set()));
    set.add(s);
    return () => {
      set?.delete(s);
      if (set?.size === 0) this.#streams.delete(deviceId);
    };
  }

  /** End every open stream of a device at once. */
  endStreams(deviceId: string, code: status, details: string): number {
    const set = this.#streams.get(deviceId);
    if (!set) return 0;
    const all = [...set];
    for (const s of all) s.end(code, details);
    return all.length;
  }

  /** Every device record, as last stored. */
  devices(): IterableIterator<DeviceRecord> {
    return this.#devices.values();
  }

  /** The device record as last stored (kept in step with every change). */
  device(deviceId: string): DeviceRecord | undefined {
    return this.#devices.get(deviceId);
  }

  /** One device as the registry reports it (undefined for an unknown device). */
  node(deviceId: string): NodeView | undefined {
    const d = this.#devices.get(deviceId);
    if (!d) return undefined;
    const s = this.#sessions.get(d.id);
    const online = Boolean(s?.registered);
    return {
      deviceId: d.id,
      name: d.name,
      role: d.role,
      online,
      lastSeen: online ? (s as Session).lastSeen : Math.max(d.lastSeen ?? 0, this.#endedAt.get(d.id) ?? 0),
      capabilities: online ? (s as Session).capabilities : (d.capabilities ?? []).map((c) => c.name),
      platform: online ? (s as Session).platform : (d.platform ?? ""),
      version: online ? (s as Session).version : (d.version ?? ""),
      inFlight: this.#jobs().inFlight(d.id),
      maxConcurrency: s?.maxConcurrency ?? 0,
      draining: online && (s as Session).draining,
    };
  }

  /** The replica an online device's stream comes through ("" when direct, or offline). */
  via(deviceId: string): string {
    const s = this.#sessions.get(deviceId);
    return s?.registered ? (s.via ?? "") : "";
  }

  nodes(): NodeView[] {
    return [...this.#devices.keys()].sort().map((id) => this.node(id) as NodeView);
  }

  /** Tell a connected device to renew now. False when it is not connected. */
  askToRenew(deviceId: string, reason: string): boolean {
    const s = this.#sessions.get(deviceId);
    if (!s?.registered) return false;
    s.call.write({ renew: { reason } });
    return true;
  }

  /**
   * Send a newly signed CRL to every registered node: at once when the last push started
   * CRL_PUSH_INTERVAL_MS ago or more, else when that much has passed, with whichever CRL is the
   * newest then (nodes need only the newest).
   */
  broadcastCrl(crl: SignedCrl): void {
    this.#crlNext = crl;
    if (this.#crlTimer) return;
    const wait = Math.max(0, this.#crlPushedAt + CRL_PUSH_INTERVAL_MS - performance.now());
    this.#crlTimer = setTimeout(() => {
      this.#crlTimer = undefined;
      this.#crlPushedAt = performance.now();
      const next = this.#crlNext as SignedCrl;
      this.#crlNext = undefined;
      this.#pushCrl(next);
    }, wait);
    this.#crlTimer.unref();
  }

  /**
   * Push a CRL in chunks of CRL_PUSH_CHUNK streams, one chunk per event-loop turn, so that a
   * revoked device's stream (ended just before) and other work are not held up behind
   * thousands of writes. A newer push supersedes one still going on.
   */
  #pushCrl(crl: SignedCrl): void {
    const generation = ++this.#crlGeneration;
    const msg: DaemonMessageInit = { crl: wireCrl(crl) };
    const targets = [...this.#sessions.values()];
    const step = (from: number) => {
      if (generation !== this.#crlGeneration) return; // superseded
      for (const s of targets.slice(from, from + CRL_PUSH_CHUNK)) {
        // a stream still registering gets the newest CRL right after its `registered`
        if (s.delivering && this.#sessions.get(s.peer.deviceId) === s) s.call.write(msg);
      }
      if (from + CRL_PUSH_CHUNK < targets.length) setImmediate(step, from + CRL_PUSH_CHUNK);
    };
    setImmediate(step, 0);
  }

  /** How many devices have a registered stream now. */
  onlineCount(): number {
    return this.#sessions.size;
  }

  isOnline(deviceId: string): boolean {
    return Boolean(this.#sessions.get(deviceId)?.registered);
  }

  #dropIdle(): void {
    const now = this.#now();
    for (const s of this.#sessions.values()) {
      if (s.registered && now - s.lastSeen > this.#idleTimeoutMs) {
        this.#log.warn("node idle, dropping stream", { device: s.peer.deviceId, idleMs: now - s.lastSeen });
        this.#end(s, status.UNAVAILABLE, `no message for ${this.#idleTimeoutMs} ms`);
      }
    }
  }

  #end(s: Session, code: status, details: string): void {
    if (s.via) this.#onEndForwarded(s.call, code, details);
    try {
      s.call.emit("error", { code, details });
    } catch {
      // already closed
    }
  }

  /** The Node.Connect handler. */
  connect(call: Call): void {
    const address = peerOf(call, "tls");
    let peer: Peer;
    try {
      peer = authenticate(call, this.#index, this.#now(), undefined, { hint: false }); // the stream gets `renew` instead
    } catch (err) {
      this.#onRefused(err instanceof DaemonError ? err.code : "INTERNAL");
      call.emit("error", toServiceError(err, this.#log, "Node.Connect", address));
      return;
    }
    const now = this.#now();
    const s: Session = {
      id: ++this.#seq,
      call,
      peer,
      address,
      via: forwardedVia(call),
      registered: false,
      capabilities: [],
      maxConcurrency: 1,
      platform: "",
      version: "",
      connectedAt: now,
      lastSeen: now,
      pumping: false,
      again: false,
      delivering: false,
      draining: false,
    };
    const untrack = this.track(peer.deviceId, { end: (code, details) => this.#end(s, code, details) });
    s.timer = setTimeout(() => {
      if (!s.registered) this.#end(s, status.DEADLINE_EXCEEDED, `no registration within ${this.#registrationTimeoutMs} ms`);
    }, this.#registrationTimeoutMs);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      untrack();
      if (s.timer) clearTimeout(s.timer);
      if (this.#sessions.get(peer.deviceId) === s) {
        this.#sessions.delete(peer.deviceId);
        if (s.registered) this.#endedAt.set(peer.deviceId, s.lastSeen);
        this.#log.info("node disconnected", { device: peer.deviceId });
        void this.#jobs()
          .requeueDevice(peer.deviceId)
          .catch((err: unknown) => this.#log.error("requeue failed", { device: peer.deviceId, error: describe(err) }));
        void this.#pairing.recordPresence(peer.deviceId, { lastSeen: this.#now() }).catch(() => undefined);
      }
    };
    call.on("error", close);
    call.on("cancelled", close);
    call.on("close", close);
    call.on("end", () => {
      close();
      call.end();
    });
    call.on("data", (m: NodeMessage) => {
      s.lastSeen = this.#now();
      this.#onMessage(s, m).catch((err: unknown) => {
        this.#end(s, status.INTERNAL, "internal error");
        this.#log.error("node message failed", { device: peer.deviceId, error: describe(err) });
      });
    });
  }

  async #onMessage(s: Session, m: NodeMessage): Promise<void> {
    const device = s.peer.deviceId;
    if (!s.registered) {
      if (m.msg !== "register" || !m.register) {
        this.#end(s, status.FAILED_PRECONDITION, "the first message must be register");
        return;
      }
      const r = m.register;
      const bad = (msg: string) => this.#end(s, status.INVALID_ARGUMENT, msg);
      if (!isDeviceId(r.deviceId)) return bad(notADeviceId("deviceId", r.deviceId));
      if (r.deviceId !== device) {
        this.#log.warn("node claimed another device id", { device, peer: s.address, claimed: r.deviceId });
        this.#end(s, status.PERMISSION_DENIED, `this certificate belongs to ${device}, not ${r.deviceId}`);
        return;
      }
      const caps: CapabilityInfo[] = [];
      if (r.capabilities.length > MAX_CAPABILITIES) return bad(`at most ${MAX_CAPABILITIES} capabilities`);
      for (const c of r.capabilities) {
        if (!CAP_NAME.test(c.name)) return bad(`capability name ${JSON.stringify(c.name.slice(0, 70))} must match [a-z0-9][a-z0-9._-]{0,63}`);
        if (c.description.length > 256 || c.inputSchema.length > 16384 || c.outputSchema.length > 16384) {
          return bad(`capability ${c.name}: description or schema too long`);
        }
        caps.push({
          name: c.name,
          ...(c.description ? { description: c.description } : {}),
          ...(c.inputSchema ? { inputSchema: c.inputSchema } : {}),
          ...(c.outputSchema ? { outputSchema: c.outputSchema } : {}),
        });
      }
      if (r.platform.length > 64 || r.version.length > 64) return bad("platform and version are at most 64 characters");
      if (s.timer) clearTimeout(s.timer);
      s.registered = true;
      s.capabilities = caps.map((c) => c.name);
      s.platform = r.platform;
      s.version = r.version;
      s.maxConcurrency = Math.max(1, Math.min(r.maxConcurrency || 1, this.#jobs().config.maxInFlightPerDevice));
      const previous = this.#sessions.get(device);
      if (previous && previous !== s) {
        this.#end(previous, status.ABORTED, "replaced by a newer connection of the same device");
        // Its jobs were sent on a stream that is gone: back to the queue, to go out on this one.
        this.#sessions.delete(device);
        await this.#jobs().requeueDevice(device);
      }
      this.#sessions.set(device, s);
      // Reconnects with the same announcement (a fleet after a daemon restart) skip the store.
      const presence = { capabilities: caps, platform: r.platform, version: r.version, lastSeen: this.#now() };
      const known = this.#devices.get(device);
      if (!known || presenceWorthWriting(known, presence)) await this.#pairing.recordPresence(device, presence);
      s.call.write({
        registered: { deviceId: device, maxConcurrency: s.maxConcurrency, heartbeatMs: Math.floor(this.#idleTimeoutMs / 3), daemonTime: this.#now() },
      });
      const crl = this.#crl();
      if (crl) s.call.write({ crl: wireCrl(crl) });
      this.#log.info("node registered", { device, peer: s.address, capabilities: s.capabilities, platform: r.platform, version: r.version });
      if (this.#devices.get(device)?.rotateRequested) s.call.write({ renew: { reason: "rotation requested by the admin" } });
      s.delivering = true; // jobs only after `registered`
      this.#pump(device);
      return;
    }
    switch (m.msg) {
      case "register":
        this.#end(s, status.FAILED_PRECONDITION, "already registered");
        return;
      case "ping":
        s.call.write({ pong: { sentAt: m.ping?.sentAt ?? 0 } });
        return;
      case "drain":
        if (!s.draining) this.#log.info("node draining", { device, inFlight: this.#jobs().inFlight(device) });
        s.draining = true;
        return;
      case "update": {
        if (m.update?.state !== "running") return;
        const r = await this.#jobs().markRunning(device, m.update.jobId);
        if ("ignored" in r) this.#ignored(s, "job update ignored", m.update.jobId, r);
        return;
      }
      case "result": {
        const res = m.result;
        if (!res) return;
        const r = await this.#jobs().complete(device, { jobId: res.jobId, ok: res.ok, output: res.output, error: res.error });
        if ("ignored" in r) this.#ignored(s, "job result ignored", res.jobId, r);
        else this.#log.debug("job finished", { device, job: r.id, state: r.state });
        this.#pump(device);
        return;
      }
      default:
        return;
    }
  }

  /**
   * Log a report that was not applied. Results for finished or requeued jobs are what a node
   * resends after every `registered` (docs/fleet.md 4.2): debug, or a restart of a busy node
   * would write a warning per cached result. A report about another device's job is a warning.
   */
  #ignored(s: Session, msg: string, jobId: string, r: Ignored): void {
    const fields = { device: s.peer.deviceId, peer: s.address, job: clip(jobId), code: r.code, reason: r.reason };
    if (r.code === "OTHER_DEVICE") this.#log.warn(msg, fields);
    else this.#log.debug(msg, fields);
  }

  #sendJob(s: Session, j: JobRecord): void {
    s.call.write({
      job: {
        jobId: j.id,
        capability: j.capability,
        input: Buffer.from(j.input),
        deadline: j.deadline,
        attempt: j.attempts,
        timeoutMs: Math.max(0, j.deadline - this.#now()),
      },
    });
  }

  /** Deliver queued jobs to a device's stream, up to its in-flight limit. Serialized per session. */
  #pump(deviceId: string): void {
    const s = this.#sessions.get(deviceId);
    if (!s?.delivering || s.draining) return;
    if (s.pumping) {
      s.again = true;
      return;
    }
    s.pumping = true;
    const run = async () => {
      do {
        s.again = false;
        const jobs: JobRecord[] = await this.#jobs().claim(deviceId, s.maxConcurrency);
        if (this.#sessions.get(deviceId) !== s) {
          // The stream ended while we claimed: put the jobs back for the next connection.
          await this.#jobs().requeueDevice(deviceId);
          return;
        }
        for (const j of jobs) this.#sendJob(s, j);
      } while (s.again && this.#sessions.get(deviceId) === s);
    };
    run()
      .catch((err: unknown) => this.#log.error("delivery failed", { device: deviceId, error: describe(err) }))
      .finally(() => {
        s.pumping = false;
      });
  }
}
