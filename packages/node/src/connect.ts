/**
 * connect(): a paired node's long-lived stream to its daemon. It registers the capabilities
 * given to handle(), runs the jobs it is sent (each with its deadline and an AbortSignal),
 * reports results, pings, and reconnects with exponential backoff and full jitter. Job ids
 * are deduplicated: a redelivered job that is still running is not started twice, and one
 * that already finished gets its result sent again. drain() stops taking jobs and lets the
 * running ones finish; a certificate renewed by another process is picked up for the next
 * channel.
 */
import { EventEmitter } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { arch, platform } from "node:os";
import { join } from "node:path";
import { Metadata, status } from "@grpc/grpc-js";
import type { Client, ClientDuplexStream, ServiceError } from "@grpc/grpc-js";
import { X509Certificate } from "node:crypto";
import { writeFileAtomic } from "@tether/base";
import { pemToDer, serialKey, verifyCrl } from "@tether/ca";
import type { VerifiedCrl } from "@tether/ca";
import { KeyProofPurpose, Secret, verifyToken } from "@tether/crypto";
import type { Jwks, TokenClaims } from "@tether/crypto";
import { packageVersion } from "@tether/wire";
import type { DaemonMessage, NodeMessageInit, RenewResponse } from "@tether/wire";
import { DEVICE_CHANNEL_OPTIONS, deviceCredentials, fromStatus, printable, serviceClient } from "./client.js";
import { NodeError } from "./errors.js";
import { certificateExpired, returnDevice } from "./return.js";
import { refusedForGood } from "./refusal.js";
import type { DeviceCredentials } from "./state.js";
import { RENEW_AT, newTlsKey, renewOver, signedKeyRequest } from "./renew.js";
import { STATE_FILES, credentialsStamp, loadCredentials } from "./state.js";

/** The version a node reports in its hello (Device.version): the package's. */
export const NODE_VERSION = packageVersion();
export const MAX_OUTPUT_BYTES = 1024 * 1024;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const RESULT_CACHE = 1000;
/** After a drain, how long to wait for the daemon to close the stream (so every result has reached it). */
const DRAIN_CLOSE_WAIT_MS = 5000;

/** `deadline` is on this machine's clock (ms since epoch), converted from the daemon's. */
export type JobContext = { jobId: string; deadline: number; attempt: number; signal: AbortSignal };
export type Handler = (input: unknown, ctx: JobContext) => Promise<unknown> | unknown;
export type CapabilityOptions = { description?: string; inputSchema?: object | string; outputSchema?: object | string };

type Stream = ClientDuplexStream<NodeMessageInit, DaemonMessage>;
type Unary = (req: object, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
type UnaryMethod = "Renew" | "IssueToken" | "GetJwks" | "IssuePeerCertificate" | "Verify" | "GetCrl";
type NodeClient = Client & { Connect(md: Metadata, opts: object): Stream } & Record<UnaryMethod, Unary>;

/** Renew when RENEW_AT (half) of the lifetime has passed, plus jitter up to RENEW_JITTER. */
export const RENEW_JITTER = 1 / 6;

export type ConnectOptions = {
  maxConcurrency?: number;
  /** The state directory, to store renewed certificates in (set by connect()). */
  stateDir?: string;
  /** Renew automatically before expiry (default true). */
  autoRenew?: boolean;
  /** With a certificate found expired, return by the identity key (Pairing.Return; default true). */
  autoReturn?: boolean;
  /**
   * Override the daemon address stored at pairing time: HOST:PORT, or several separated by
   * commas (replicas on one database, or an active daemon and its standby), tried in turn: a
   * stream that ends or cannot be opened moves to the next address.
   */
  daemon?: string;
  platform?: string;
  version?: string;
};

/** The CA's CRL as this node holds it: verified against the CA, newest CRL number wins. */
export type HeldCrl = VerifiedCrl & { der: Uint8Array };

/** What drain() did: jobs that finished (and were reported) during the drain, and jobs still running when its time ran out. */
export type Drained = { finished: number; unfinished: number };

/** Events: "registered", "disconnected" ({code, details, retryInMs, daemon}), "job" ({jobId, capability}),
 *  "result" ({jobId, ok}), "fatal" (NodeError: revoked or otherwise refused for good; its
 *  message states why and the step that works, its cause is the daemon's refusal),
 *  "renewed", "renewal-failed", "crl" (HeldCrl, a newer verified CRL), "crl-refused" (Error),
 *  "not-started" ({jobId, capability}: delivered while draining; it goes back to the queue),
 *  "returning" ({notAfter, daemon}: the certificate expired, the device returns by its identity
 *  key), "return-pending" ({verificationCode, requestId, expiresAt}: its return waits for an
 *  admin), "returned" (Returned: a new certificate). */
export class NodeConnection extends EventEmitter {
  readonly deviceId: string;
  #creds: DeviceCredentials;
  /** credentialsStamp() of the state directory when #creds was read */
  #stamp?: string;
  #renewTimer?: NodeJS.Timeout;
  #oldClients: NodeClient[] = [];
  /** the channel the current stream runs on */
  #streamClient?: NodeClient;
  readonly #opts: ConnectOptions;
  readonly #handlers = new Map<string, { fn: Handler; o: CapabilityOptions }>();
  readonly #running = new Map<string, AbortController>();
  /** called (once) when no job is running any more, after the last result was sent */
  readonly #idle = new Set<() => void>();
  readonly #finished = new Map<string, { ok: boolean; output: Buffer; error: string }>();
  #client?: NodeClient;
  #stream?: Stream;
  #closed = false;
  #draining = false;
  #failures = 0;
  #ping?: NodeJS.Timeout;
  #retry?: NodeJS.Timeout;
  #crl?: HeldCrl;
  #crlChain: Promise<unknown> = Promise.resolve();
  #savedCrlRead = false;
  /** daemon clock minus ours, from the last `registered` (0 until then) */
  #clockOffsetMs = 0;
  #jwks?: { at: number; keys: Jwks };

  constructor(creds: DeviceCredentials, opts: ConnectOptions = {}) {
    super();
    this.#creds = creds;
    this.#opts = opts;
    this.deviceId = creds.state.deviceId;
    if (opts.stateDir) this.#stamp = credentialsStamp(opts.stateDir);
  }

  /** Register a capability. Call before start(). */
  handle(name: string, fn: Handler, o: CapabilityOptions = {}): this {
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name)) throw new NodeError("BAD_INPUT", `capability name ${JSON.stringify(name)} must match [a-z0-9][a-z0-9._-]{0,63}`);
    this.#handlers.set(name, { fn, o });
    return this;
  }

  /** Connect, and keep reconnecting until close(). Resolves once registered the first time. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      const ok = () => {
        this.off("fatal", bad);
        resolve();
      };
      const bad = (e: Error) => {
        this.off("registered", ok);
        reject(e);
      };
      this.once("registered", ok);
      this.once("fatal", bad);
    });
    this.#open();
    return ready;
  }

  #open(): void {
    if (this.#closed) return;
    if (!this.#savedCrlRead && this.#opts.stateDir) this.#loadSavedCrl(this.#opts.stateDir);
    for (const c of this.#oldClients.splice(0)) c.close(); // their streams are over
    this.#followCredentials();
    if (this.#opts.stateDir && this.#opts.autoReturn !== false && certificateExpired(this.#creds.certPem)) {
      void this.#returnThenOpen(this.#opts.stateDir);
      return;
    }
    this.#client ??= this.#makeClient();
    this.#streamClient = this.#client;
    const stream = this.#client.Connect(new Metadata(), {});
    this.#stream = stream;
    stream.on("data", (m: DaemonMessage) => this.#onMessage(stream, m));
    stream.on("error", (err: ServiceError) => this.#onClosed(stream, err.code, err.details));
    stream.on("end", () => this.#onClosed(stream, status.UNAVAILABLE, "stream ended"));
    const caps = [...this.#handlers].map(([name, { o }]) => ({
      name,
      description: o.description ?? "",
      inputSchema: typeof o.inputSchema === "object" ? JSON.stringify(o.inputSchema) : (o.inputSchema ?? ""),
      outputSchema: typeof o.outputSchema === "object" ? JSON.stringify(o.outputSchema) : (o.outputSchema ?? ""),
    }));
    stream.write({
      register: {
        deviceId: this.deviceId,
        capabilities: caps,
        platform: this.#opts.platform ?? `${platform()}-${arch()}`,
        version: this.#opts.version ?? NODE_VERSION,
        maxConcurrency: this.#opts.maxConcurrency ?? 1,
      },
    });
  }

  /** The addresses to try (--daemon A,B,C, else the one paired with), and which is in use. */
  #addresses(): string[] {
    const list = (this.#opts.daemon ?? this.#creds.state.daemon)
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean);
    return list.length ? list : [this.#creds.state.daemon];
  }
  #at = 0;

  /** The address the current channel dials. */
  get daemonAddress(): string {
    const list = this.#addresses();
    return list[this.#at % list.length] as string;
  }

  #makeClient(): NodeClient {
    const Ctor = serviceClient<NodeClient>("Node");
    return new Ctor(this.daemonAddress, deviceCredentials(this.#creds), DEVICE_CHANNEL_OPTIONS);
  }

  /**
   * Take a certificate that another process (`tether node renew`) stored in the state
   * directory: the next call and the next stream use a channel with it (the open stream stays
   * where it is). Otherwise this process would go on presenting the certificate that renewal
   * replaced, which the daemon refuses once the overlap is over.
   */
  #followCredentials(): void {
    const dir = this.#opts.stateDir;
    if (!dir) return;
    const stamp = credentialsStamp(dir);
    if (stamp === this.#stamp) return;
    let fresh: DeviceCredentials;
    try {
      fresh = loadCredentials(dir);
    } catch {
      return; // keep what we have; the next look may find it whole
    }
    this.#stamp = stamp;
    if (fresh.state.deviceId !== this.deviceId || fresh.certPem === this.#creds.certPem) return;
    this.#creds = fresh;
    this.#replaceClient();
  }

  /**
   * The certificate expired (the device was off, or asleep, past its end): return by the
   * identity key (return.ts), then connect with the new certificate. A refusal that retrying
   * cannot mend (revoked, rejected) is fatal; an unreachable daemon is tried again with backoff.
   */
  async #returnThenOpen(stateDir: string): Promise<void> {
    const notAfter = Date.parse(new X509Certificate(this.#creds.certPem).validTo);
    this.emit("returning", { notAfter, daemon: this.daemonAddress });
    try {
      const r = await returnDevice(stateDir, {
        daemon: this.daemonAddress,
        onVerificationCode: (code, info) => this.emit("return-pending", { verificationCode: code, ...info }),
      });
      this.emit("returned", r);
    } catch (err) {
      if (this.#closed) return;
      const e = err instanceof NodeError ? err : new NodeError("DAEMON_REFUSED", (err as Error).message, { cause: err });
      if (e.code === "UNREACHABLE" || e.code === "BUSY") {
        this.#failures++;
        const retryInMs = Math.floor(Math.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.#failures - 1, 10)));
        this.emit("disconnected", { code: status.UNAVAILABLE, details: printable(e.message), retryInMs, daemon: this.daemonAddress, next: this.daemonAddress });
        this.#retry = setTimeout(() => this.#open(), retryInMs);
        return;
      }
      this.#closed = true;
      this.#client?.close();
      if (this.listenerCount("fatal")) this.emit("fatal", e);
      return;
    }
    this.#open();
  }

  /** A new channel for what follows; the one carrying the open stream is closed once that stream ends. */
  #replaceClient(): void {
    const prev = this.#client;
    this.#client = this.#makeClient();
    if (prev && prev === this.#streamClient) this.#oldClients.push(prev);
    else prev?.close(); // carries no stream
  }

  #onClosed(stream: Stream, code: number, details: string): void {
    if (stream !== this.#stream) return;
    this.#stream = undefined;
    if (this.#ping) clearInterval(this.#ping);
    if (this.#closed) return;
    if (code === status.UNAUTHENTICATED && this.#opts.stateDir && this.#opts.autoReturn !== false && certificateExpired(this.#creds.certPem)) {
      // It expired while this process ran (the clock moved on, or the machine slept): return.
      this.#open();
      return;
    }
    if (code === status.PERMISSION_DENIED || code === status.UNAUTHENTICATED || code === status.ABORTED) {
      // Revoked, expired, or replaced by another process using the same identity (ABORTED on
      // the current stream): retrying cannot help, or would fight the other process.
      this.#closed = true;
      for (const c of this.#running.values()) c.abort(new Error("connection refused for good"));
      this.#client?.close();
      const e = refusedForGood({ code, details, deviceId: this.deviceId, certPem: this.#creds.certPem });
      if (this.listenerCount("fatal")) this.emit("fatal", e);
      return;
    }
    this.#failures++;
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.#failures - 1, 10));
    const retryInMs = Math.floor(Math.random() * cap); // full jitter: a restarted daemon is not stampeded
    const was = this.daemonAddress;
    if (this.#addresses().length > 1) {
      // Another replica next: the one that ended the stream may be gone.
      this.#at = (this.#at + 1) % this.#addresses().length;
      this.#replaceClient();
    }
    this.emit("disconnected", { code, details: printable(details), retryInMs, daemon: was, next: this.daemonAddress });
    this.#retry = setTimeout(() => this.#open(), retryInMs);
  }

  #send(m: NodeMessageInit): void {
    this.#stream?.write(m);
  }

  #onMessage(stream: Stream, m: DaemonMessage): void {
    if (stream !== this.#stream) return;
    if (m.msg === "registered" && m.registered) {
      this.#failures = 0;
      if (m.registered.daemonTime) this.#clockOffsetMs = m.registered.daemonTime - Date.now();
      const every = Math.max(1000, m.registered.heartbeatMs || 10_000);
      this.#ping = setInterval(() => this.#send({ ping: { sentAt: Date.now() } }), every);
      this.#ping.unref();
      // Results that finished while we were away are sent again; the daemon ignores duplicates.
      for (const [jobId, r] of this.#finished) this.#send({ result: { jobId, ...r } });
      if (this.#draining) this.#send({ drain: {} }); // reconnected while draining
      if (this.#opts.autoRenew !== false) this.#scheduleRenewal();
      this.emit("registered", m.registered);
    } else if (m.msg === "job" && m.job) {
      this.#run(m.job);
    } else if (m.msg === "renew") {
      this.renew().catch((err: unknown) => this.emit("renewal-failed", err));
    } else if (m.msg === "crl" && m.crl) {
      void this.acceptCrl(m.crl.crl).catch((err: unknown) => this.emit("crl-refused", err));
    } else if (m.msg === "cancel" && m.cancel) {
      this.#running.get(m.cancel.jobId)?.abort(new Error(`cancelled: ${m.cancel.reason}`));
    }
  }

  #run(job: NonNullable<DaemonMessage["job"]>): void {
    const { jobId } = job;
    if (this.#running.has(jobId)) return; // redelivered while still running
    const done = this.#finished.get(jobId);
    if (done) {
      this.#send({ result: { jobId, ...done } });
      return;
    }
    if (this.#draining) {
      // Not started: when the stream ends the daemon puts it back in the queue (fleet.md §7).
      this.emit("not-started", { jobId, capability: job.capability });
      return;
    }
    const h = this.#handlers.get(job.capability);
    const ac = new AbortController();
    this.#running.set(jobId, ac);
    // Timed on this machine's clock from the time left, so that clock skew cannot shorten it.
    const deadline = job.timeoutMs ? Date.now() + job.timeoutMs : job.deadline - this.#clockOffsetMs;
    const timer = setTimeout(() => ac.abort(new Error("deadline passed")), Math.max(0, deadline - Date.now()));
    this.emit("job", { jobId, capability: job.capability, attempt: job.attempt });
    this.#send({ update: { jobId, state: "running" } });
    const work = async () => {
      if (!h) throw new Error(`this node has no handler for ${job.capability}`);
      const text = Buffer.from(job.input).toString("utf8");
      const input: unknown = text ? JSON.parse(text) : null;
      return h.fn(input, { jobId, deadline, attempt: job.attempt, signal: ac.signal });
    };
    // A handler that ignores its signal must not hold the job (or this process) past an abort.
    const aborted = new Promise<never>((_, reject) => ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true }));
    // Every failure of the handler is caught below; what can still reject is a throwing "result"
    // listener, which surfaces as an uncaught error as it would from any other emit.
    void Promise.race([work(), aborted])
      .then((out) => {
        const output = Buffer.from(JSON.stringify(out ?? null));
        if (output.length > MAX_OUTPUT_BYTES) throw new Error(`output is ${output.length} bytes; the limit is ${MAX_OUTPUT_BYTES}`);
        return { ok: true, output, error: "" };
      })
      .catch((err: unknown) => ({ ok: false, output: Buffer.alloc(0), error: String((err as Error)?.message ?? err).slice(0, 4096) }))
      .then((r) => {
        clearTimeout(timer);
        this.#running.delete(jobId);
        try {
          // Shutting down: report nothing, so the daemon delivers the job again (at-least-once).
          if (!this.#closed) {
            this.#finished.set(jobId, r);
            if (this.#finished.size > RESULT_CACHE) this.#finished.delete(this.#finished.keys().next().value as string);
            this.#send({ result: { jobId, ...r } });
            this.emit("result", { jobId, ok: r.ok, error: r.error });
          }
        } finally {
          // Even if a listener threw: a drain waiting for the last job must not wait forever.
          if (this.#running.size === 0 && this.#idle.size > 0) {
            const waiting = [...this.#idle];
            this.#idle.clear();
            for (const f of waiting) f();
          }
        }
      });
  }

  #scheduleRenewal(): void {
    if (this.#renewTimer || this.#closed) return;
    // Measured from now, not from notBefore (which is backdated for clock skew): renew when
    // 50-67 % of the *remaining* lifetime has passed.
    const cert = new X509Certificate(this.#creds.certPem);
    const now = Date.now();
    const remaining = Math.max(0, Date.parse(cert.validTo) - now);
    const at = now + remaining * (RENEW_AT + Math.random() * RENEW_JITTER);
    this.#renewTimer = setTimeout(
      () => {
        this.#renewTimer = undefined;
        this.renew().catch((err: unknown) => {
          this.emit("renewal-failed", err);
          // try again in a while, unless the certificate is gone for good
          if (!this.#closed) this.#renewTimer = setTimeout(() => ((this.#renewTimer = undefined), this.#scheduleRenewal()), 30_000);
        });
      },
      Math.max(0, at - Date.now()),
    );
    this.#renewTimer.unref();
  }

  /**
   * Renew the certificate now, with a new TLS key (default) or the current one. The open
   * stream keeps running; later connections use the new certificate.
   */
  async renew(o: { rekey?: boolean } = {}): Promise<{ notAfter: number; fingerprint: string }> {
    this.#followCredentials(); // renew with the newest certificate stored, whoever stored it
    const r = await renewOver((req) => this.#unary<RenewResponse>("Renew", req), {
      stateDir: this.#requireStateDir(),
      deviceId: this.deviceId,
      caPem: this.#creds.caPem,
      currentKeyPem: this.#creds.keyPem.expose(),
      ...(o.rekey === false ? { rekey: false } : {}),
    });
    this.#creds = { ...this.#creds, certPem: r.certPem, ...(r.keyPem ? { keyPem: new Secret(r.keyPem, "TlsPrivateKey") } : {}) };
    if (this.#opts.stateDir) this.#stamp = credentialsStamp(this.#opts.stateDir);
    // The open stream stays on the old channel; calls from now on, and the next stream, use a
    // new channel with the new certificate (the old one stops being accepted after the overlap).
    this.#replaceClient();
    this.emit("renewed", { notAfter: r.notAfter, fingerprint: r.fingerprint });
    if (this.#opts.autoRenew !== false) this.#scheduleRenewal();
    return { notAfter: r.notAfter, fingerprint: r.fingerprint };
  }

  /**
   * Take a CRL (DER) from the daemon: kept only if the CA signed it and its CRL number is
   * greater than the one held (no rollback to an older list; the same CRL again is a no-op). Saved in the state directory, so
   * a restarted node knows the revocations before it reaches the daemon again.
   * @throws CaError BAD_CRL when the CRL is not the CA's; NodeError STALE_CRL when it is older.
   */
  acceptCrl(der: Uint8Array): Promise<HeldCrl> {
    return this.#takeCrl(der, true);
  }

  #takeCrl(der: Uint8Array, save: boolean): Promise<HeldCrl> {
    // one at a time, so that two CRLs arriving together cannot overtake each other
    const run = async () => {
      const v = await verifyCrl(der, pemToDer(this.#creds.caPem, "CERTIFICATE"));
      if (this.#crl && v.crlNumber <= this.#crl.crlNumber) {
        // The same CRL again (e.g. after a reconnect) changes nothing; another one with a
        // number not above ours is an old one being replayed.
        if (Buffer.compare(Buffer.from(der), Buffer.from(this.#crl.der)) === 0) return this.#crl;
        throw new NodeError("STALE_CRL", `CRL number ${v.crlNumber} is not newer than the one held (${this.#crl.crlNumber})`);
      }
      const held: HeldCrl = { ...v, der: new Uint8Array(der) };
      this.#crl = held;
      if (save && this.#opts.stateDir) writeFileAtomic(join(this.#opts.stateDir, STATE_FILES.crl), held.der, 0o644);
      this.emit("crl", held);
      return held;
    };
    const p = this.#crlChain.then(run, run);
    this.#crlChain = p.catch(() => undefined);
    return p;
  }

  /** The CRL kept from an earlier run, read once, at the first connection (not written back). */
  #loadSavedCrl(dir: string): void {
    this.#savedCrlRead = true;
    const f = join(dir, STATE_FILES.crl);
    if (!existsSync(f)) return;
    void this.#takeCrl(new Uint8Array(readFileSync(f)), false).catch((err: unknown) => this.emit("crl-refused", err));
  }

  /** The CRL this node holds (pushed by the daemon on its stream, or fetched with refreshCrl()). */
  crl(): HeldCrl | undefined {
    return this.#crl;
  }

  /** Fetch the current CRL with a call (GetCrl) and take it. */
  async refreshCrl(): Promise<HeldCrl> {
    const r = await this.#unary<{ crl: Uint8Array }>("GetCrl", {});
    return this.acceptCrl(r.crl);
  }

  /** Whether a serial (hex) is on the CRL this node holds. */
  isSerialRevoked(serialHex: string): boolean {
    return Boolean(this.#crl?.revokedSerials.has(serialKey(serialHex)));
  }

  /** The daemon's clock minus this machine's, as of the last registration (ms; 0 before). */
  daemonClockOffsetMs(): number {
    return this.#clockOffsetMs;
  }

  /** The daemon's time as this node estimates it. */
  daemonNow(): number {
    return Date.now() + this.#clockOffsetMs;
  }

  /**
   * Verify a token offline against the daemon's JWKS (fetched once an hour), on the daemon's
   * clock as this node estimates it, so that a node whose clock is minutes off still agrees
   * with the daemon about expiry. Revocation is not visible offline: use Verify for that.
   * @throws CryptoError BAD_TOKEN with the reason.
   */
  async verifyToken(token: string, audience: string): Promise<TokenClaims> {
    if (!this.#jwks || Date.now() - this.#jwks.at > 60 * 60_000) this.#jwks = { at: Date.now(), keys: await this.getJwks() };
    return verifyToken(token, this.#jwks.keys, { audience, now: this.daemonNow() });
  }

  /** A short-lived token (JWT, EdDSA) naming this device, for `audience`; at most 15 minutes. */
  issueToken(audience: string, ttlSeconds = 0): Promise<{ token: string; expiresAt: number }> {
    return this.#unary("IssueToken", { audience, ttlSeconds });
  }

  /**
   * Ask the daemon about a certificate (DER): valid, revoked, expired or unknown, and whether
   * its device may talk to this one (the label policy).
   */
  verifyCertificate(der: Uint8Array): Promise<{ status: string; deviceId: string; role: string; reason: string; allowed: boolean; policy: string }> {
    return this.#unary("Verify", { certificate: der, peerDeviceId: this.deviceId }, 10_000);
  }

  /** A fresh key and a serverAuth certificate for it, to serve other devices (peer.ts). */
  async issuePeerCertificate(): Promise<{ certPem: string; keyPem: string; notAfter: number }> {
    const keyPem = newTlsKey();
    const req = signedKeyRequest(this.#requireStateDir(), this.deviceId, KeyProofPurpose.PeerCertificate, keyPem);
    const r = await this.#unary<RenewResponse>("IssuePeerCertificate", req);
    return { certPem: new X509Certificate(r.certificate).toString(), keyPem, notAfter: r.notAfter };
  }

  /** This device's TLS material, for peer connections (the key never leaves the process). */
  tlsMaterial(): { caPem: string; certPem: string; keyPem: string } {
    return { caPem: this.#creds.caPem, certPem: this.#creds.certPem, keyPem: this.#creds.keyPem.expose() };
  }

  /** The daemon's token verification keys (JWKS), for verifyToken(). */
  async getJwks(): Promise<Jwks> {
    return JSON.parse((await this.#unary<{ json: string }>("GetJwks", {})).json) as Jwks;
  }

  /** One unary call on the current channel; daemon refusals become NodeErrors. */
  #unary<R>(method: UnaryMethod, req: object, timeoutMs = 30_000): Promise<R> {
    if (this.#client) this.#followCredentials();
    const client = this.#client;
    if (!client) return Promise.reject(new NodeError("UNREACHABLE", "not connected"));
    return new Promise((resolve, reject) =>
      (client[method] as Unary).call(client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(fromStatus(e)) : resolve(r as R))),
    );
  }

  #requireStateDir(): string {
    if (!this.#opts.stateDir) throw new NodeError("STATE_DIR", "renewal needs the state directory (use connect(stateDir))");
    return this.#opts.stateDir;
  }

  /** How many jobs are running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Whether drain() has been called. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Stop taking jobs and let the running ones finish: tell the daemon (`drain`, fleet.md
   * §2.4), so it delivers nothing more on this stream; a job that arrives all the same is not
   * started. Resolves when no job is running, or after `timeoutMs`, whichever comes first;
   * the results of the jobs that finished have been sent by then. Then close() (or
   * closeGracefully()) the connection.
   */
  async drain(timeoutMs: number): Promise<Drained> {
    this.#draining = true;
    this.#send({ drain: {} });
    const before = this.#running.size;
    if (before > 0) {
      await new Promise<void>((resolve) => {
        const waiter = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          this.#idle.delete(waiter);
          resolve();
        }, timeoutMs);
        this.#idle.add(waiter);
      });
    }
    const unfinished = this.#running.size;
    return { finished: before - unfinished, unfinished };
  }

  /**
   * Close after a drain: half-close the stream and wait (at most DRAIN_CLOSE_WAIT_MS) for the
   * daemon to end it, so that every result sent before has been read; then close(). Jobs
   * still running are aborted and not reported, as with close().
   */
  async closeGracefully(): Promise<void> {
    const stream = this.#stream;
    this.#closed = true;
    if (stream) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, DRAIN_CLOSE_WAIT_MS);
        const end = () => {
          clearTimeout(t);
          resolve();
        };
        stream.once("end", end);
        stream.once("error", end);
        stream.once("status", end);
        stream.end();
      });
    }
    await this.close();
  }

  /** Stop: cancel running jobs, close the stream and the channel. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    for (const c of this.#oldClients) c.close();
    if (this.#retry) clearTimeout(this.#retry);
    if (this.#ping) clearInterval(this.#ping);
    for (const c of this.#running.values()) c.abort(new Error("node shutting down"));
    this.#stream?.end();
    this.#stream?.cancel();
    this.#client?.close();
  }
}

/** Load a paired node's credentials from its state directory and make a connection (not started). */
export function connect(stateDir: string, opts: ConnectOptions = {}): NodeConnection {
  return new NodeConnection(loadCredentials(stateDir), { stateDir, ...opts });
}
