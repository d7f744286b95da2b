/**
 * What probes and tools ask the daemon about itself: the standard `grpc.health.v1.Health`
 * service (grpc-health-check) on the node listener and on the admin socket, and server
 * reflection (@grpc/reflection, v1 and v1alpha).
 *
 * One serving status for the whole daemon, from `readiness()` (readiness.ts): SERVING only
 * while the store is writable and the CA, server and signer certificates are valid by the
 * daemon's clock; NOT_SERVING from the start of a stop, and from a failed store write on. It
 * is answered under "" (the daemon), each service name the server carries (Pairing, Node and
 * Orchestrator on both; Admin on the socket only), and is re-read at each Check, every second
 * for Watch streams, and at once when the store fails or a stop begins. On the listener,
 * which anyone who can reach it may ask without a client certificate, health answers only a
 * status; on the socket a Check also says why in the `tether-health-reason` header.
 *
 * Reflection on the listener (only with `tether daemon --reflection`) is built from the
 * listener's own protos, so it can neither list nor describe the Admin service
 * (docs/security.md, row 51).
 */
import { X509Certificate } from "node:crypto";
import { Metadata, status } from "@grpc/grpc-js";
import type { Server, ServerUnaryCall, ServerWritableStream, ServiceDefinition, UntypedServiceImplementation, sendUnaryData } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import type { ServingStatus } from "grpc-health-check";
import { API_PACKAGE, HEALTH_REASON_HEADER, listenerPackageDefinition, tetherPackageDefinition } from "@tether/wire";
import type { Logger } from "./log.js";
import { Tally, peerAddress } from "./ratelimit.js";
import { readiness } from "./readiness.js";
import type { CertWindow, Readiness } from "./readiness.js";

/** The health service's own name. */
export const HEALTH_SERVICE = "grpc.health.v1.Health";

/** Where a server is: the node listener (TLS, no client certificate needed for these) or the admin socket. */
export type ProbeSite = "listener" | "socket";

/** The health names each site answers: "" is the daemon as a whole. */
export const HEALTH_NAMES: Readonly<Record<ProbeSite, readonly string[]>> = Object.freeze({
  listener: ["", `${API_PACKAGE}.Pairing`, `${API_PACKAGE}.Node`, `${API_PACKAGE}.Orchestrator`],
  socket: ["", `${API_PACKAGE}.Pairing`, `${API_PACKAGE}.Node`, `${API_PACKAGE}.Orchestrator`, `${API_PACKAGE}.Admin`],
});

/** The services reflection lists at each site (the listener's are from its own protos only). */
const REFLECTED: Readonly<Record<ProbeSite, readonly string[]>> = Object.freeze({
  listener: [`${API_PACKAGE}.Pairing`, `${API_PACKAGE}.Node`, `${API_PACKAGE}.Orchestrator`, HEALTH_SERVICE],
  socket: [`${API_PACKAGE}.Admin`, `${API_PACKAGE}.Orchestrator`, HEALTH_SERVICE],
});

/** How often Watch streams are brought up to date with the clock (a certificate's window can pass). */
export const PROBE_REFRESH_MS = 1_000;

/**
 * Watch streams open at once on the listener, from one address and in all: a stream costs
 * little, but a stranger must not be able to open them without end (HTTP/2 sets no limit on
 * streams per connection). A load balancer needs a few; Check has no such limit.
 */
export const MAX_LISTENER_WATCHES_PER_ADDRESS = 16;
export const MAX_LISTENER_WATCHES = 1024;

/** A Watch stream still open at a stop ends with this, right after its NOT_SERVING. */
const STOPPING = { code: status.UNAVAILABLE, details: "the daemon is stopping" };

let healthDefinition: PackageDefinition | undefined;

/** The validity window of a PEM or DER certificate, parsed again only when the certificate under a name changes. */
export function certWindowOf(): (name: string, cert: string | Uint8Array) => CertWindow {
  const last = new Map<string, { cert: string | Uint8Array; window: CertWindow }>();
  return (name, cert) => {
    const hit = last.get(name);
    if (hit && (hit.cert === cert || (typeof cert !== "string" && typeof hit.cert !== "string" && Buffer.from(hit.cert).equals(cert)))) return hit.window;
    const x = new X509Certificate(cert);
    const window = { name, notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo) };
    last.set(name, { cert, window });
    return window;
  };
}

export class Probes {
  readonly #now: () => number;
  readonly #storeFailed: () => boolean;
  readonly #databaseDown: () => boolean;
  readonly #certs: () => readonly CertWindow[];
  readonly #log: Logger;
  readonly #health: Record<ProbeSite, HealthImplementation>;
  readonly #watches = new Set<ServerWritableStream<unknown, unknown>>();
  /** the listener's open Watch streams by peer address */
  readonly #listenerWatches = new Tally();
  #closing = false;
  #status: ServingStatus;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: { now: () => number; storeFailed: () => boolean; databaseDown?: () => boolean; certs: () => readonly CertWindow[]; log: Logger }) {
    this.#now = o.now;
    this.#storeFailed = o.storeFailed;
    this.#databaseDown = o.databaseDown ?? (() => false);
    this.#certs = o.certs;
    this.#log = o.log;
    const r = this.readiness();
    this.#status = r.ready ? "SERVING" : "NOT_SERVING";
    if (!r.ready) this.#log.warn("health: NOT_SERVING", { reason: r.reason });
    const initial = (site: ProbeSite) => Object.fromEntries(HEALTH_NAMES[site].map((n) => [n, this.#status]));
    this.#health = { listener: new HealthImplementation(initial("listener")), socket: new HealthImplementation(initial("socket")) };
  }

  /** Ready or not, and why, now (RunningDaemon.readiness, /readyz). */
  readiness(): Readiness {
    let certs: readonly CertWindow[];
    try {
      certs = this.#certs();
    } catch {
      certs = [{ name: "daemon's", notBefore: NaN, notAfter: NaN }]; // unreadable: never taken for valid
    }
    return readiness({ storeFailed: this.#storeFailed(), databaseDown: this.#databaseDown(), closing: this.#closing, certs, now: this.#now() });
  }

  /** Re-read readiness; when the status changed, every Watch stream is told at once. */
  refresh(): Readiness {
    const r = this.readiness();
    const next: ServingStatus = r.ready ? "SERVING" : "NOT_SERVING";
    if (next !== this.#status) {
      this.#status = next;
      // A stop says so in its own lines (daemon stopping); a change while running is news.
      if (!this.#closing) this.#log[r.ready ? "info" : "warn"](`health: ${next}`, { reason: r.reason });
      for (const site of ["listener", "socket"] as const) for (const n of HEALTH_NAMES[site]) this.#health[site].setStatus(n, next);
    }
    return r;
  }

  /** Keep Watch streams up to date with the clock (stopped by `stopping()`). */
  start(intervalMs = PROBE_REFRESH_MS): void {
    this.#timer ??= setInterval(() => this.refresh(), intervalMs);
    this.#timer.unref();
  }

  /**
   * The start of a stop, before any server drains: NOT_SERVING everywhere, each Watch stream
   * told so, then ended (so that it does not hold the servers' graceful shutdown open).
   */
  stopping(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#closing = true;
    this.refresh();
    for (const w of [...this.#watches]) {
      this.#watches.delete(w);
      w.emit("error", { ...STOPPING, metadata: new Metadata() }); // after the queued NOT_SERVING (grpc-js: ends with this status)
    }
  }

  /** Add the health service to `server`, with the names of `site`. */
  serveHealth(server: Pick<Server, "addService">, site: ProbeSite): void {
    this.#health[site].addToServer({
      addService: (service, impl) => server.addService(service as unknown as ServiceDefinition, this.#wrap(impl as unknown as UntypedServiceImplementation, site)),
    });
  }

  /** The library's handlers, with readiness re-read at each call and Watch streams tracked. */
  #wrap(impl: UntypedServiceImplementation, site: ProbeSite): UntypedServiceImplementation {
    const check = impl.check as (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void;
    const watch = impl.watch as (call: ServerWritableStream<unknown, unknown>) => void;
    return {
      ...impl,
      check: (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => {
        const r = this.refresh();
        if (site === "socket" && !r.ready) {
          const md = new Metadata();
          md.set(HEALTH_REASON_HEADER, r.reason);
          call.sendMetadata(md);
        }
        check(call, cb);
      },
      watch: (call: ServerWritableStream<unknown, unknown>) => {
        this.refresh();
        if (this.#closing) {
          watch(call); // its NOT_SERVING, then the end
          call.emit("error", { ...STOPPING, metadata: new Metadata() });
          return;
        }
        let forgotten = false;
        let release = () => {};
        if (site === "listener") {
          const address = peerAddress(call.getPeer());
          if (this.#listenerWatches.of(address) >= MAX_LISTENER_WATCHES_PER_ADDRESS || this.#listenerWatches.total >= MAX_LISTENER_WATCHES) {
            const details = `TOO_MANY_WATCHES: at most ${MAX_LISTENER_WATCHES_PER_ADDRESS} health Watch streams per address (${MAX_LISTENER_WATCHES} in all) on the listener; Check has no limit`;
            call.emit("error", { code: status.RESOURCE_EXHAUSTED, details, metadata: new Metadata() });
            return;
          }
          this.#listenerWatches.add(address);
          release = () => this.#listenerWatches.remove(address);
        }
        this.#watches.add(call);
        const forget = () => {
          if (forgotten) return;
          forgotten = true;
          this.#watches.delete(call);
          release();
        };
        call.once("cancelled", forget);
        call.once("finish", forget);
        call.once("close", forget);
        watch(call);
      },
    };
  }
}

/**
 * Server reflection at `site`: on the socket every service it serves; on the listener its
 * own three (and health), from a package definition without admin.proto.
 */
export function serveReflection(server: Pick<Server, "addService">, site: ProbeSite): void {
  healthDefinition ??= loadSync(healthProtoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const tether = site === "listener" ? listenerPackageDefinition() : tetherPackageDefinition();
  new ReflectionService({ ...tether, ...healthDefinition }, { services: [...REFLECTED[site]] }).addToServer(server);
}
