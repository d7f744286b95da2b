/**
 * Device-to-device calls: a peer server on a node that requires a client certificate from the
 * same CA, and a client that presents this node's certificate. Trust comes only from the
 * daemon's CA. Each side first checks the other's serial against the CRL it holds (pushed by
 * the daemon on its stream), then asks the daemon (Verify) whether the certificate is still
 * good and allowed by the label policy, so a revoked peer is refused. Answers are cached for
 * PEER_VERIFY_CACHE_MS. When the daemon cannot be reached, the check fails closed, unless
 * `offlineFallback` is set: then a certificate that is within its validity and not on a CRL
 * that is still current (before its nextUpdate) is accepted, without the label policy.
 */
import { X509Certificate } from "node:crypto";
import { Metadata, Server, ServerCredentials, credentials, status } from "@grpc/grpc-js";
import type { Client, ServerUnaryCall, ServiceError, sendUnaryData } from "@grpc/grpc-js";
import { loadPackageDefinition } from "@grpc/grpc-js";
import { tetherPackageDefinition, MAX_NODE_MESSAGE_BYTES } from "@tether/wire";
import type { NodeConnection } from "./connect.js";
import { deviceIdFromSubjectAltName } from "@tether/ca";
import { NodeError } from "./errors.js";

export const PEER_VERIFY_CACHE_MS = 5_000;

export type PeerInfo = { deviceId: string; role: string };
export type PeerHandler = (input: unknown, peer: PeerInfo) => Promise<unknown> | unknown;

type PeerClient = Client & {
  Call(req: object, md: Metadata, opts: object, cb: (e: ServiceError | null, r: { output: Buffer }) => void): void;
};

function peerService() {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as {
    tether: { v1: { Peer: (new (a: string, c: unknown, o: object) => PeerClient) & { service: never } } };
  };
  return pkg.tether.v1.Peer;
}

export type PeerCheckOptions = {
  /** how long a Verify answer is reused (default PEER_VERIFY_CACHE_MS) */
  verifyCacheMs?: number;
  /** with the daemon unreachable, decide from the certificate and a current CRL (default false: refuse) */
  offlineFallback?: boolean;
};

/** Check a peer's certificate: the CRL this node holds, then the daemon, with a short cache. */
class PeerVerifier {
  readonly #conn: NodeConnection;
  readonly #cache = new Map<string, { at: number; info: PeerInfo | string }>();
  readonly #ttl: number;
  readonly #offline: boolean;
  constructor(conn: NodeConnection, o: PeerCheckOptions = {}) {
    this.#conn = conn;
    this.#ttl = o.verifyCacheMs ?? PEER_VERIFY_CACHE_MS;
    this.#offline = o.offlineFallback ?? false;
  }
  async check(der: Buffer): Promise<PeerInfo> {
    const cert = new X509Certificate(der);
    // The CRL is consulted first and is never outweighed by a cached answer.
    if (this.#conn.isSerialRevoked(cert.serialNumber)) throw new NodeError("REVOKED", "peer certificate is on the CA's CRL (revoked)");
    const fp = cert.fingerprint256;
    const hit = this.#cache.get(fp);
    const now = Date.now();
    let info = hit && now - hit.at < this.#ttl ? hit.info : undefined;
    if (info === undefined) {
      let r;
      try {
        r = await this.#conn.verifyCertificate(der);
      } catch (err) {
        if (!(err instanceof NodeError && err.code === "UNREACHABLE")) throw err;
        return this.#offlineCheck(cert, err);
      }
      info =
        r.status !== "valid"
          ? `peer certificate is ${r.status}${r.reason ? `: ${r.reason}` : ""}`
          : r.allowed
            ? { deviceId: r.deviceId, role: r.role }
            : `policy does not allow ${r.deviceId} to talk to this device: ${r.policy}`;
      this.#cache.set(fp, { at: now, info });
    }
    if (typeof info === "string") throw new NodeError("REVOKED", info);
    return info;
  }

  /** The daemon is unreachable: fail closed, or (if allowed) decide from a current CRL. */
  #offlineCheck(cert: X509Certificate, cause: NodeError): PeerInfo {
    if (!this.#offline) throw new NodeError("UNREACHABLE", `cannot check the peer with the daemon: ${cause.message}`, { cause });
    const crl = this.#conn.crl();
    const now = this.#conn.daemonNow();
    if (!crl || now >= crl.nextUpdate) throw new NodeError("UNREACHABLE", "the daemon is unreachable and no current CRL is held", { cause });
    if (now < Date.parse(cert.validFrom) || now >= Date.parse(cert.validTo)) throw new NodeError("REVOKED", "peer certificate is outside its validity");
    const deviceId = deviceIdFromSubjectAltName(cert.subjectAltName);
    if (!deviceId) throw new NodeError("BAD_CERTIFICATE", "peer certificate names no device");
    return { deviceId, role: "" };
  }
}

export type PeerServer = { port: number; close(): Promise<void> };

/**
 * Serve `handlers` to other devices of the same CA on `address` (default 127.0.0.1:0).
 * Every call's client certificate is checked with the daemon; a revoked or unknown peer gets
 * PERMISSION_DENIED.
 */
export async function createPeerServer(conn: NodeConnection, handlers: Record<string, PeerHandler>, o: { address?: string } & PeerCheckOptions = {}): Promise<PeerServer> {
  const address = o.address ?? "127.0.0.1:0";
  const creds = conn.tlsMaterial();
  const verifier = new PeerVerifier(conn, o);
  const server = new Server({ "grpc.max_receive_message_length": MAX_NODE_MESSAGE_BYTES });
  server.addService(peerService().service, {
    Call: (call: ServerUnaryCall<{ method: string; input: Buffer }, object>, cb: sendUnaryData<object>) => {
      const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
      if (!raw) return cb({ code: status.UNAUTHENTICATED, details: "a device certificate is required" }, null);
      verifier
        .check(raw)
        .then(
          async (peer) => {
            const h = handlers[call.request.method];
            if (!h) return cb({ code: status.UNIMPLEMENTED, details: `no peer method ${call.request.method}` }, null);
            const text = Buffer.from(call.request.input).toString("utf8");
            const out = await h(text ? JSON.parse(text) : null, peer);
            cb(null, { output: Buffer.from(JSON.stringify(out ?? null)) });
          },
          (err: Error) => cb({ code: err instanceof NodeError && err.code === "UNREACHABLE" ? status.UNAVAILABLE : status.PERMISSION_DENIED, details: err.message }, null),
        )
        .catch((err: Error) => cb({ code: status.INTERNAL, details: err.message }, null));
    },
  });
  // The device's client certificate is clientAuth-only; serving needs a serverAuth one.
  const serving = await conn.issuePeerCertificate();
  const sc = ServerCredentials.createSsl(Buffer.from(creds.caPem), [{ cert_chain: Buffer.from(serving.certPem), private_key: Buffer.from(serving.keyPem) }], true);
  const port = await new Promise<number>((res, rej) => server.bindAsync(address, sc, (e, p) => (e ? rej(e) : res(p))));
  return { port, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

export type PeerConnection = { call(method: string, input?: unknown): Promise<unknown>; peer(): PeerInfo | undefined; close(): void };

/**
 * Call a peer device at `address`: TLS verified against the CA, this node's certificate
 * presented, and the server's certificate checked with the daemon before the first call.
 */
export function connectPeer(conn: NodeConnection, address: string, o: { expectDeviceId?: string } & PeerCheckOptions = {}): PeerConnection {
  const m = conn.tlsMaterial();
  const verifier = new PeerVerifier(conn, o);
  let seen: PeerInfo | undefined;
  let serverCert: Buffer | undefined;
  const creds = credentials.createSsl(Buffer.from(m.caPem), Buffer.from(m.keyPem), Buffer.from(m.certPem), {
    checkServerIdentity: (_host, cert) => {
      serverCert = cert.raw;
      return undefined;
    },
  });
  const client = new (peerService())(address, creds, { "grpc.ssl_target_name_override": "localhost" });
  return {
    async call(method, input) {
      const out = await new Promise<Buffer>((resolve, reject) =>
        client.Call({ method, input: Buffer.from(JSON.stringify(input ?? null)) }, new Metadata(), { deadline: Date.now() + 30_000 }, (e, r) =>
          e
            ? reject(new NodeError(e.code === status.PERMISSION_DENIED ? "REVOKED" : "DAEMON_REFUSED", `peer refused (${status[e.code]}): ${e.details}`, { cause: e }))
            : resolve(r.output),
        ),
      );
      // The server's certificate is known once TLS is up; check it before using its answer.
      if (!serverCert) throw new NodeError("BAD_CERTIFICATE", "no peer certificate seen");
      seen = await verifier.check(serverCert);
      if (o.expectDeviceId && seen.deviceId !== o.expectDeviceId) throw new NodeError("BAD_CERTIFICATE", `peer is ${seen.deviceId}, not ${o.expectDeviceId}`);
      const text = out.toString("utf8");
      return text ? (JSON.parse(text) as unknown) : null;
    },
    peer: () => seen,
    close: () => client.close(),
  };
}
