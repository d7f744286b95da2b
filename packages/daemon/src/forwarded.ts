/**
 * Request forwarding, the active daemon's half (forward.ts is the replica's): a call that
 * carries forwarding headers is taken as made by the device (or the admin) the headers name
 * only when the connection it came on presented a replica's client certificate: one this
 * daemon's CA issued, valid now, with EKU clientAuth and a SAN URI `urn:tether:replica:<id>`
 * (only a daemon holding the CA key, unsealed with the key-encryption key, can make one). The
 * call is then handed to the very handler a direct call gets, with its auth context and peer
 * address replaced by the forwarded ones, so every check (the device index, revocation, roles,
 * rate limits, the admin's rights) is the one a direct call passes. Forwarding headers from any
 * other peer are refused (PERMISSION_DENIED), never ignored: a device cannot claim to be
 * another, or the admin.
 */
import { X509Certificate } from "node:crypto";
import { Metadata, status } from "@grpc/grpc-js";
import type { ServiceDefinition, StatusObject, UntypedServiceImplementation } from "@grpc/grpc-js";
import { REPLICA_URI_PREFIX, verifyIssuedBy } from "@tether/ca";
import { FORWARDED_CERT_HEADER, FORWARDED_FOR_HEADER, FORWARDED_ORIGIN_HEADER, FORWARDED_PREFIX } from "./forward.js";
import type { ForwardOrigin } from "./forward.js";

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
/** Replica certificates checked, by fingerprint, at most this many kept. */
const CHECKED_MAX = 256;

type PeerCert = { raw?: Buffer; fingerprint256?: string; valid_from?: string; valid_to?: string };
type Call = {
  metadata: Metadata;
  getPeer(): string;
  getAuthContext?: () => { transportSecurityType?: string; sslPeerCertificate?: PeerCert } | null;
};

/** The replica each adopted call came through. */
const VIA = new WeakMap<object, string>();

/** The id of the replica a call was forwarded by (undefined: a direct call). */
export function forwardedVia(call: object): string | undefined {
  return VIA.get(call);
}

/** A refusal of a call with forwarding headers from a peer that is not a replica. */
export class ForwardRefused extends Error {
  readonly code = status.PERMISSION_DENIED;
  constructor(readonly details: string) {
    super(details);
  }
}

/** Decides, per call, whether it was forwarded by a replica and as made where. */
export class ForwardedCalls {
  readonly #caDer: Uint8Array;
  readonly #now: () => number;
  /** replica certificates that passed, by fingerprint: until when (their notAfter) */
  readonly #checked = new Map<string, { replica: string; until: number }>();

  constructor(caDer: Uint8Array, now: () => number) {
    this.#caDer = caDer;
    this.#now = now;
  }

  /** Whether the call carries forwarding headers (checked by adopt). */
  static carriesForwarding(call: Call): boolean {
    for (const k of Object.keys(call.metadata.getMap())) if (k.startsWith(FORWARDED_PREFIX)) return true;
    return false;
  }

  /**
   * undefined: not forwarded (a direct call). Otherwise where the replica got it, with the
   * call's auth context and peer now the forwarded ones.
   * @throws ForwardRefused when it carries forwarding headers but its peer is not a replica
   */
  async adopt(call: Call): Promise<ForwardOrigin | undefined> {
    if (!ForwardedCalls.carriesForwarding(call)) return undefined;
    const md = call.metadata.getMap();
    const replica = await this.replicaOf(call.getAuthContext?.()?.sslPeerCertificate);
    if (!replica) throw new ForwardRefused("FORWARD_REFUSED: forwarding headers are accepted only from a replica daemon of this authority");
    VIA.set(call, replica);
    const via = `replica ${replica}`;
    if (md[FORWARDED_ORIGIN_HEADER] === "admin-socket") {
      call.getAuthContext = () => ({ transportSecurityType: "local" });
      call.getPeer = () => `admin-socket (${via})`;
      return "admin-socket";
    }
    const forwardedFor = typeof md[FORWARDED_FOR_HEADER] === "string" ? md[FORWARDED_FOR_HEADER] : "";
    const der = call.metadata.get(FORWARDED_CERT_HEADER)[0];
    let cert: PeerCert | undefined;
    if (Buffer.isBuffer(der)) {
      try {
        const x = new X509Certificate(der);
        cert = { raw: der, fingerprint256: x.fingerprint256, valid_from: x.validFrom, valid_to: x.validTo };
      } catch {
        throw new ForwardRefused("FORWARD_REFUSED: the forwarded client certificate does not parse");
      }
    }
    call.getAuthContext = () => ({ transportSecurityType: "ssl", ...(cert ? { sslPeerCertificate: cert } : {}) });
    call.getPeer = () => forwardedFor;
    return "tls";
  }

  /** The replica id of a peer certificate that is a replica certificate of this CA, valid now (else undefined). */
  async replicaOf(cert: PeerCert | undefined): Promise<string | undefined> {
    if (!cert?.raw || !cert.fingerprint256) return undefined;
    const now = this.#now();
    const hit = this.#checked.get(cert.fingerprint256);
    if (hit && now < hit.until) return hit.replica;
    try {
      await verifyIssuedBy(cert.raw, this.#caDer, now);
      const x = new X509Certificate(cert.raw);
      const uri = (x.subjectAltName ?? "").split(", ").find((n) => n.startsWith(`URI:${REPLICA_URI_PREFIX}`));
      if (!uri || !(x.keyUsage ?? []).includes(CLIENT_AUTH)) return undefined;
      const until = Date.parse(x.validTo);
      if (!(now >= Date.parse(x.validFrom) && now < until)) return undefined;
      if (this.#checked.size >= CHECKED_MAX) this.#checked.clear();
      const replica = uri.slice(`URI:${REPLICA_URI_PREFIX}`.length);
      this.#checked.set(cert.fingerprint256, { replica, until });
      return replica;
    } catch {
      return undefined;
    }
  }
}

type Handler = (call: never, cb?: never) => void;

function refuse(
  m: { requestStream: boolean; responseStream: boolean },
  call: { emit(e: "error", err: unknown): boolean },
  cb: ((err: unknown, v: null) => void) | undefined,
  s: Partial<StatusObject>,
): void {
  const err = { code: s.code, details: s.details, metadata: new Metadata() };
  if (!m.responseStream && cb) cb(err, null);
  else call.emit("error", err);
}

/**
 * A service of the active daemon's node listener that replicas may forward to: each call is
 * adopted (ForwardedCalls) and handed to the implementation for where it was made; a call
 * made where the service has none (the Admin service, directly on the listener) is refused.
 */
export function forwardable(def: ServiceDefinition, impls: Partial<Record<ForwardOrigin, UntypedServiceImplementation>>, forwarded: ForwardedCalls): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [name, m] of Object.entries(def)) {
    out[name] = ((call: Call & { emit(e: "error", err: unknown): boolean }, cb?: (err: unknown, v: null) => void) => {
      if (!ForwardedCalls.carriesForwarding(call)) {
        // a direct call: no detour through a promise
        const h = impls.tls?.[name] as Handler | undefined;
        if (h) (h as (c: unknown, cb?: unknown) => void)(call, cb);
        else refuse(m, call, cb, { code: status.PERMISSION_DENIED, details: `${m.path} is served on the admin socket only` });
        return;
      }
      forwarded.adopt(call).then(
        (origin) => {
          const h = impls[origin ?? "tls"]?.[name] as Handler | undefined;
          if (!h) {
            refuse(m, call, cb, { code: status.PERMISSION_DENIED, details: `${m.path} is served on the admin socket only` });
            return;
          }
          (h as (c: unknown, cb?: unknown) => void)(call, cb);
        },
        (err: unknown) =>
          refuse(m, call, cb, err instanceof ForwardRefused ? { code: err.code, details: err.details } : { code: status.INTERNAL, details: "forwarding check failed" }),
      );
    }) as never;
  }
  return out;
}
