/**
 * Listener credentials: one port serves pairing (no client certificate) and node traffic
 * (client certificate required per call). TLS therefore *requests* a client certificate but
 * does not require it; every non-pairing handler authenticates the peer itself (auth.ts).
 * The identity can be swapped at run time (server certificate rotation) without a restart.
 */
import { TLSSocket } from "node:tls";
import type { PeerCertificate } from "node:tls";
import { experimental } from "@grpc/grpc-js";
import type { ServerCredentials } from "@grpc/grpc-js";

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

type CaListener = (u: { caCertificate: Buffer } | null) => void;
type IdListener = (u: { certificate: Buffer; privateKey: Buffer } | null) => void;

export class ListenerIdentity {
  #ca: Buffer;
  #cert: Buffer;
  #key: Buffer;
  readonly #caListeners = new Set<CaListener>();
  readonly #idListeners = new Set<IdListener>();

  constructor(caPem: string, certPem: string, keyPem: string) {
    this.#ca = Buffer.from(caPem);
    this.#cert = Buffer.from(certPem);
    this.#key = Buffer.from(keyPem);
  }

  addCaCertificateListener(l: CaListener): void {
    this.#caListeners.add(l);
    // Asynchronously: grpc-js registers its watcher only after adding the listeners.
    queueMicrotask(() => this.#caListeners.has(l) && l({ caCertificate: this.#ca }));
  }
  removeCaCertificateListener(l: CaListener): void {
    this.#caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdListener): void {
    this.#idListeners.add(l);
    queueMicrotask(() => this.#idListeners.has(l) && l({ certificate: this.#cert, privateKey: this.#key }));
  }
  removeIdentityCertificateListener(l: IdListener): void {
    this.#idListeners.delete(l);
  }

  /** Present a new server certificate to new connections; open ones are unaffected. */
  rotate(certPem: string, keyPem: string): void {
    this.#cert = Buffer.from(certPem);
    this.#key = Buffer.from(keyPem);
    for (const l of this.#idListeners) l({ certificate: this.#cert, privateKey: this.#key });
  }

  credentials(): ServerCredentials {
    // Client certificates are requested (a CA is given) but not required (false).
    return experimental.createCertificateProviderServerCredentials(this, this, false);
  }
}
