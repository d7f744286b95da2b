/**
 * The node listener's TLS side. One port serves pairing (no client certificate) and node
 * traffic (client certificate required per call), so TLS *requests* a client certificate but
 * does not require it; every non-pairing handler authenticates the peer itself (auth.ts).
 *
 * The daemon owns the TLS server, and hands a connection to grpc-js (through a connection
 * injector) only once its handshake is complete. Until then it bounds what a peer that never
 * completes one can cost: each handshake has a deadline, the handshakes in progress are capped
 * per source address and in total, and all connections together stay well below the process's
 * file limit, so that descriptors remain for the admin socket and the store.
 * The server certificate can be swapped at run time (rotation) without a restart.
 */
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { TLSSocket, createServer } from "node:tls";
import type { PeerCertificate, Server as TlsServer } from "node:tls";
import type { ConnectionInjector } from "@grpc/grpc-js";
import type { Logger } from "./log.js";
import { describe } from "./errors.js";
import { Tally } from "./ratelimit.js";

let peerCertificatesCached = false;

/**
 * grpc-js builds the auth context of every call with `socket.getPeerCertificate()`, which
 * converts the certificate to a JS object each time (about 7 % of the daemon's CPU under
 * dispatch load, `npm run bench -- --only dispatch` with BENCH_PROFILE=1). On a connection
 * that negotiated TLS 1.3 the peer certificate cannot change (TLS 1.3 has no renegotiation,
 * and Node does not offer post-handshake authentication), so the first complete answer is
 * kept for the connection's life. Connections on older TLS versions are asked every time.
 */
export function cachePeerCertificates(): void {
  if (peerCertificatesCached) return;
  peerCertificatesCached = true;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call(this), on the socket
  const original = TLSSocket.prototype.getPeerCertificate;
  const cache = new WeakMap<TLSSocket, PeerCertificate>();
  TLSSocket.prototype.getPeerCertificate = function (this: TLSSocket, detailed?: boolean) {
    if (detailed) return original.call(this, true);
    const hit = cache.get(this);
    if (hit) return hit;
    const cert = original.call(this, false);
    if (cert?.raw && this.getProtocol() === "TLSv1.3") cache.set(this, cert);
    return cert;
  } as typeof original;
}

/** A TLS handshake not complete after this long is dropped (Node's own default is 120 s). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Handshakes in progress from one source address; more are refused at once. */
export const MAX_HANDSHAKES_PER_ADDRESS = 32;
/** File descriptors kept from the listener (at least; a quarter of the limit when that is more). */
export const RESERVED_FILES = 64;
/** The file limit assumed where the process's own cannot be read (not Linux). */
export const ASSUMED_FILE_LIMIT = 1024;

export type ListenerLimits = Readonly<{
  handshakeTimeoutMs: number;
  /** connections open at once, in handshake or established; more are closed as accepted */
  maxConnections: number;
  /** handshakes in progress at once, from every address together */
  maxHandshakes: number;
  maxHandshakesPerAddress: number;
}>;

/** The soft limit on open files of this process (Node raises it to the hard limit at start), if known. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Defaults for what is not given: connections up to the file limit less what is reserved,
 * handshakes up to half of that (so established connections always keep the other half).
 */
export function resolveListenerLimits(o: Partial<ListenerLimits> = {}, fileLimit = openFileLimit() ?? ASSUMED_FILE_LIMIT): ListenerLimits {
  const byFiles = Math.max(1, fileLimit - Math.max(RESERVED_FILES, Math.floor(fileLimit / 4)));
  const maxConnections = Math.min(o.maxConnections ?? byFiles, byFiles);
  return Object.freeze({
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    maxConnections,
    maxHandshakes: Math.min(o.maxHandshakes ?? Math.ceil(maxConnections / 2), maxConnections),
    maxHandshakesPerAddress: o.maxHandshakesPerAddress ?? MAX_HANDSHAKES_PER_ADDRESS,
  });
}

/**
 * Why the listener refused a connection or its handshake failed: a cap on connections or
 * handshakes (total, or from one address) was reached; the handshake timed out, the peer
 * left before it was done, or TLS failed (not TLS at all, no common cipher, ...).
 */
export type ListenerRefusal = "connection_limit" | "handshake_limit" | "address_handshake_limit" | "handshake_timeout" | "disconnected" | "tls_error";

/** How often, at most, the listener logs that it refused connections (with a count). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

export class TlsListener {
  readonly #server: TlsServer;
  #limits: ListenerLimits;
  readonly #log: Logger;
  #ca: string;
  /** raw sockets whose TLS handshake is in progress, by "address port" */
  readonly #handshaking = new Map<string, Socket>();
  /** connections whose handshake is done (HTTP/2 sessions of gRPC's), to be destroyed if gRPC's shutdown leaves one */
  readonly #established = new Set<TLSSocket>();
  /** handshakes in progress by source address */
  readonly #perAddress = new Tally();
  #refused = 0;
  #refusalLogged = 0;
  readonly #onRefused: (reason: ListenerRefusal) => void;

  constructor(o: {
    caPem: string;
    certPem: string;
    keyPem: string;
    injector: ConnectionInjector;
    limits: ListenerLimits;
    log: Logger;
    /** told of each connection refused or handshake failed (the daemon's metrics) */
    onRefused?: (reason: ListenerRefusal) => void;
  }) {
    this.#limits = o.limits;
    this.#log = o.log;
    this.#onRefused = o.onRefused ?? (() => undefined);
    this.#ca = o.caPem;
    this.#server = createServer({
      ca: o.caPem,
      cert: o.certPem,
      key: o.keyPem,
      requestCert: true, // asked for, not required (see the header)
      rejectUnauthorized: false,
      ALPNProtocols: ["h2"],
      handshakeTimeout: o.limits.handshakeTimeoutMs,
    });
    // Node closes connections beyond this as it accepts them, before any TLS work.
    this.#server.maxConnections = o.limits.maxConnections;
    // Before Node wraps the socket in TLS: count it, or refuse it.
    this.#server.prependListener("connection", (raw: Socket) => this.#accepted(raw));
    this.#server.on("secureConnection", (socket: TLSSocket) => {
      this.#handshakeDone(socket);
      // From here errors are the HTTP/2 session's to report; an unhandled one would throw.
      socket.on("error", () => {});
      this.#established.add(socket);
      socket.once("close", () => this.#established.delete(socket));
      o.injector.injectConnection(socket);
    });
    // A failed or timed-out handshake: Node leaves closing the socket to us.
    this.#server.on("tlsClientError", (err, socket) => {
      socket.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      this.#onRefused(code === "ERR_TLS_HANDSHAKE_TIMEOUT" ? "handshake_timeout" : code === "ECONNRESET" ? "disconnected" : "tls_error");
    });
    this.#server.on("drop", () => this.#refuse("connection_limit"));
  }

  get limits(): ListenerLimits {
    return this.#limits;
  }

  /**
   * Change the caps from now on (a configuration reload): connections past a lower cap are
   * not closed, new ones are refused until the count is below it. The handshake timeout is
   * the TLS server's own, fixed when it is made: a different one is ignored (restart).
   */
  setLimits(limits: ListenerLimits): void {
    this.#limits = Object.freeze({ ...limits, handshakeTimeoutMs: this.#limits.handshakeTimeoutMs });
    this.#server.maxConnections = limits.maxConnections;
  }

  /**
   * Start listening; resolves with the port actually bound.
   * @throws the listen error (EADDRINUSE, EACCES, ...)
   */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen({ host, port }, () => {
        this.#server.off("error", reject);
        // Accept errors (EMFILE if the process runs out of descriptors after all) must not stop the daemon.
        this.#server.on("error", (err) => this.#log.error("node listener error", { error: describe(err) }));
        resolve((this.#server.address() as { port: number }).port);
      });
    });
  }

  /** Present a new server certificate to new connections; open ones are unaffected. */
  rotate(certPem: string, keyPem: string): void {
    this.#server.setSecureContext({ ca: this.#ca, cert: certPem, key: keyPem });
  }

  /**
   * Stop accepting and drop the handshakes in progress. Resolves once every connection has
   * closed: established ones are gRPC's to end (shut its server down meanwhile).
   */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const raw of this.#handshaking.values()) raw.destroy();
    return closed;
  }

  /**
   * Destroy the connections still open: call after gRPC's (forced) shutdown. A peer that stopped
   * reading keeps its socket open while data waits to be written to it, after its HTTP/2 session
   * was destroyed; waiting for it would hold up a stop (and a replica's takeover) until TCP
   * gives up. Returns how many there were.
   */
  destroyConnections(): number {
    const n = this.#established.size;
    for (const s of this.#established) s.destroy();
    this.#established.clear();
    return n;
  }

  #accepted(raw: Socket): void {
    const address = raw.remoteAddress ?? "";
    const fromAddress = this.#perAddress.of(address);
    if (fromAddress >= this.#limits.maxHandshakesPerAddress || this.#handshaking.size >= this.#limits.maxHandshakes) {
      raw.destroy();
      this.#refuse(fromAddress >= this.#limits.maxHandshakesPerAddress ? "address_handshake_limit" : "handshake_limit");
      return;
    }
    const key = `${address} ${raw.remotePort}`;
    this.#handshaking.set(key, raw);
    this.#perAddress.add(address);
    raw.once("close", () => {
      if (this.#handshaking.get(key) === raw) this.#release(key, address);
    });
  }

  #handshakeDone(socket: TLSSocket): void {
    const address = socket.remoteAddress ?? "";
    const key = `${address} ${socket.remotePort}`;
    if (this.#handshaking.has(key)) this.#release(key, address);
  }

  #release(key: string, address: string): void {
    this.#handshaking.delete(key);
    this.#perAddress.remove(address);
  }

  /** Count a refused connection; log the count now and then, never once per connection. */
  #refuse(reason: ListenerRefusal): void {
    this.#onRefused(reason);
    this.#refused++;
    const now = Date.now();
    if (now - this.#refusalLogged < REFUSAL_LOG_INTERVAL_MS) return;
    this.#refusalLogged = now;
    this.#log.warn("node listener refusing connections", {
      refused: this.#refused,
      handshaking: this.#handshaking.size,
      limits: this.#limits,
    });
    this.#refused = 0;
  }
}
