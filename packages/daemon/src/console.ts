/**
 * The web console's place in the daemon (docs/console.md): started on the first
 * `tether console` (Admin.OpenConsole), on --console's address (loopback by default), and
 * wired to the daemon's own admin socket, so that each thing the page does is the admin-API
 * call the CLI makes, checked and audited the same way. Off loopback it serves HTTPS with the
 * daemon's server certificate, which the daemon's CA issued.
 */
import { Metadata, credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { ConsoleServer } from "@tether/console";
import type { Backend } from "@tether/console";
import { MAX_ADMIN_MESSAGE_BYTES, tetherPackageDefinition } from "@tether/wire";
import type { Logger } from "./log.js";
import { DaemonError } from "./errors.js";

/** How long one console call may take before the page is told the daemon does not answer. */
export const CONSOLE_CALL_TIMEOUT_MS = 30_000;

type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
type AnyClient = Client & Record<string, Unary>;

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const WILDCARD = new Set(["0.0.0.0", "::"]);

export type ConsoleHostOptions = {
  host: string;
  port: number;
  adminSocket: string;
  /** the daemon's server certificate now (it is renewed while the daemon runs) */
  serverCertificate: () => { certPem: string; keyPem: string };
  /** the host names that certificate carries */
  certificateHosts: readonly string[];
  /** the host the daemon advertises to nodes (the URL's, when the console listens on a wildcard) */
  advertiseHost: string;
  now: () => number;
  random: (n: number) => Uint8Array;
  log: Logger;
};

/** A Backend over gRPC clients of the daemon's own admin socket. */
function socketBackend(adminSocket: string): { backend: Backend; close(): void } {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as {
    tether: { v1: Record<"Admin" | "Orchestrator", new (a: string, c: ReturnType<typeof credentials.createInsecure>, o: object) => AnyClient> };
  };
  const opts = { "grpc.max_receive_message_length": MAX_ADMIN_MESSAGE_BYTES };
  const clients = {
    Admin: new pkg.tether.v1.Admin(`unix://${adminSocket}`, credentials.createInsecure(), opts),
    Orchestrator: new pkg.tether.v1.Orchestrator(`unix://${adminSocket}`, credentials.createInsecure(), opts),
  };
  const backend: Backend = (service, method, req) =>
    new Promise((resolve, reject) => {
      const client = clients[service];
      const fn = client[method];
      if (typeof fn !== "function") return reject(new Error(`no method ${service}.${method}`));
      fn.call(client, req, new Metadata(), { deadline: Date.now() + CONSOLE_CALL_TIMEOUT_MS }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  return {
    backend,
    close: () => {
      clients.Admin.close();
      clients.Orchestrator.close();
    },
  };
}

/** The console, started when first asked for; one per daemon. */
export class ConsoleHost {
  readonly #o: ConsoleHostOptions;
  #starting: Promise<ConsoleServer> | undefined;
  #closeBackend: (() => void) | undefined;
  #closed = false;

  constructor(o: ConsoleHostOptions) {
    this.#o = o;
  }

  /** Whether the console listens beyond loopback (and so over TLS). */
  get remote(): boolean {
    return !LOOPBACK.has(this.#o.host);
  }

  /** The host the URL names: the listen address, or off loopback on a wildcard the advertised host. */
  #publicHost(): string | undefined {
    if (!this.remote) return undefined;
    const host = WILDCARD.has(this.#o.host) ? this.#o.advertiseHost : this.#o.host;
    if (!this.#o.certificateHosts.includes(host)) {
      throw new DaemonError(
        "CONSOLE_HOST",
        `the console would answer at ${host}, which the daemon's server certificate does not name (it names ${this.#o.certificateHosts.join(", ")}): give --advertise that host, or --console on one of those`,
        { status: status.FAILED_PRECONDITION },
      );
    }
    return host;
  }

  async #start(): Promise<ConsoleServer> {
    const publicHost = this.#publicHost();
    const socket = socketBackend(this.#o.adminSocket);
    const { backend } = socket;
    const server = new ConsoleServer({
      backend,
      host: this.#o.host,
      port: this.#o.port,
      ...(this.remote ? { tls: this.#o.serverCertificate(), ...(publicHost ? { publicHost } : {}) } : {}),
      now: this.#o.now,
      random: this.#o.random,
      log: this.#o.log,
    });
    try {
      const origin = await server.listen();
      this.#closeBackend = () => socket.close();
      this.#o.log.info("console listening", { origin, tls: this.remote });
      return server;
    } catch (cause) {
      socket.close();
      throw new DaemonError("CONSOLE_LISTEN_FAILED", `the console cannot listen on ${this.#o.host}:${this.#o.port}: ${(cause as Error).message}`, {
        cause,
        status: status.FAILED_PRECONDITION,
      });
    }
  }

  /** A one-time login URL, starting the console first if it is not running. */
  async open(): Promise<{ url: string; expiresAt: number }> {
    if (this.#closed) throw new DaemonError("STOPPING", "the daemon is stopping", { status: status.UNAVAILABLE });
    this.#starting ??= this.#start();
    let server: ConsoleServer;
    try {
      server = await this.#starting;
    } catch (err) {
      this.#starting = undefined; // the next `tether console` tries again
      throw err;
    }
    return server.loginUrl();
  }

  /** The daemon's server certificate was renewed: new console connections get the new one. */
  rotate(): void {
    if (!this.remote || !this.#starting) return;
    void this.#starting.then((s) => s.rotate(this.#o.serverCertificate())).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const starting = this.#starting;
    if (!starting) return;
    const server = await starting.catch(() => undefined);
    await server?.close();
    this.#closeBackend?.();
  }
}
