/**
 * Listener credentials: one port serves pairing (no client certificate) and node traffic
 * (client certificate required per call). TLS therefore *requests* a client certificate but
 * does not require it; every non-pairing handler authenticates the peer itself (auth.ts).
 * The identity can be swapped at run time (server certificate rotation) without a restart.
 */
import { experimental } from "@grpc/grpc-js";
import type { ServerCredentials } from "@grpc/grpc-js";

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
