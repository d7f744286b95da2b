/**
 * Request forwarding, the replica's half (docs/scaling.md, "Replicas"): a replica serves the
 * node listener and the admin socket like the active daemon, but decides nothing. Each call is
 * passed, as bytes it never parses, to the active daemon over one mutual-TLS HTTP/2 connection,
 * with who made it in headers the active trusts only from a replica's certificate
 * (forwarded.ts). Answers, response headers, trailers, status, cancellation and flow control
 * pass back unchanged, so a node, an orchestrator or an admin cannot tell a replica from the
 * active daemon. The state, and every decision on it, stays in one process; what several
 * replicas add is places to connect to, and a takeover that needs no node to move.
 *
 * Vault's performance standbys forward requests to the active node the same way.
 */
import { Metadata, connectivityState, status } from "@grpc/grpc-js";
import type {
  Client,
  ClientDuplexStream,
  ClientReadableStream,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  StatusObject,
  UntypedServiceImplementation,
  sendUnaryData,
} from "@grpc/grpc-js";

/** The device certificate (DER) the caller presented to the replica's TLS listener. */
export const FORWARDED_CERT_HEADER = "tether-forwarded-cert-bin";
/** The caller's address as the replica saw it (grpc-js `getPeer()`: `host:port`). */
export const FORWARDED_FOR_HEADER = "tether-forwarded-for";
/** Set to `admin-socket` on calls made on the replica's admin socket. */
export const FORWARDED_ORIGIN_HEADER = "tether-forwarded-origin";
/**
 * On a forwarded stream: its number at the replica, so that the active can end it there at once
 * over a connection of its own (stream-ends.ts), ahead of whatever is queued on the shared one.
 */
export const FORWARDED_STREAM_HEADER = "tether-forwarded-stream";
/** Every header of this prefix is the replica's to set: one a client sent is dropped. */
export const FORWARDED_PREFIX = "tether-forwarded-";

/** Where a forwarded call was made: the replica's node listener, or its admin socket. */
export type ForwardOrigin = "tls" | "admin-socket";

const bytes = (b: Buffer): Buffer => b;

/** The same service with its messages as bytes: a replica forwards them unread. */
export function opaque(def: ServiceDefinition): ServiceDefinition {
  const out: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(def)) {
    out[name] = { ...m, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes };
  }
  return out as ServiceDefinition;
}

/** Headers that belong to the hop (HTTP/2 and gRPC framing), not to the call: not copied. */
const HOP_HEADERS = new Set(["user-agent", "grpc-accept-encoding", "grpc-encoding", "accept-encoding", "content-type", "te", "grpc-timeout"]);

type AnyCall = {
  metadata: Metadata;
  getPeer(): string;
  getDeadline(): Date | number;
  getAuthContext?: () => { sslPeerCertificate?: { raw?: Buffer } } | null;
  on(event: "cancelled", fn: () => void): unknown;
};

/** The call's own headers, and the forwarding ones that say who made it. */
function upstreamMetadata(call: AnyCall, origin: ForwardOrigin): Metadata {
  const md = call.metadata.clone();
  for (const key of Object.keys(md.getMap())) if (HOP_HEADERS.has(key) || key.startsWith(FORWARDED_PREFIX)) md.remove(key);
  if (origin === "admin-socket") {
    md.set(FORWARDED_ORIGIN_HEADER, "admin-socket");
  } else {
    md.set(FORWARDED_FOR_HEADER, call.getPeer());
    const raw = call.getAuthContext?.()?.sslPeerCertificate?.raw;
    if (raw) md.set(FORWARDED_CERT_HEADER, raw);
  }
  return md;
}

function callOptions(call: AnyCall): { deadline?: Date | number } {
  const d = call.getDeadline();
  return typeof d === "number" && !Number.isFinite(d) ? {} : { deadline: d };
}

/** What a call gets when the replica knows no active daemon to forward to. */
export const NO_ACTIVE: Partial<StatusObject> = {
  code: status.UNAVAILABLE,
  details: "NO_ACTIVE_DAEMON: this replica cannot reach the active daemon (it may be taking over); nothing was changed, try again",
};

function asError(s: Partial<StatusObject>): Partial<StatusObject> {
  return { code: s.code ?? status.UNKNOWN, details: s.details ?? "", metadata: s.metadata ?? new Metadata() };
}

type Answering = {
  write(b: Buffer): boolean;
  once(e: "drain", fn: () => void): unknown;
  sendMetadata(md: Metadata): void;
  end(md?: Metadata): void;
  emit(e: "error", err: unknown): boolean;
};

/**
 * The status for the caller: the active's own, or NO_ACTIVE when the call failed because the
 * way to the active did (its listener gone while it restarts or dies): UNAVAILABLE without one
 * of the daemon's codes, on a channel that is not connected now. grpc-js's own words ("No
 * connection established") would tell the caller nothing about the cluster.
 */
function fromUpstream(s: Partial<StatusObject>, c: Client): Partial<StatusObject> {
  if (s.code === status.UNAVAILABLE && !/^[A-Z][A-Z_]+: /.test(s.details ?? "") && c.getChannel().getConnectivityState(false) !== connectivityState.READY)
    return asError(NO_ACTIVE);
  return asError(s);
}

/**
 * The replica's forwarded streams by number, so that an end the active signals on its own
 * connection (stream-ends.ts) reaches the caller at once; the active's status, arriving later
 * on the shared connection, then finds the call ended.
 */
export class ForwardedStreams {
  #seq = 0;
  readonly #open = new Map<string, (code: status, details: string) => void>();

  open(end: (code: status, details: string) => void): string {
    const id = String(++this.#seq);
    this.#open.set(id, end);
    return id;
  }

  close(id: string): void {
    this.#open.delete(id);
  }

  /** End stream `id` with the active's status; false when it is not open (already ended, or not ours). */
  end(id: string, code: status, details: string): boolean {
    const fn = this.#open.get(id);
    if (!fn) return false;
    this.#open.delete(id);
    fn(code, details);
    return true;
  }

  get size(): number {
    return this.#open.size;
  }
}

/**
 * A forwarded stream's bookkeeping: its number in `streams` (sent as FORWARDED_STREAM_HEADER),
 * and whether it ended already (by a signalled end), after which the active's own status and
 * messages for it are dropped.
 */
function track(streams: ForwardedStreams | undefined, md: Metadata, call: Answering, up: () => { cancel(): void } | undefined): { ended(): boolean; done(): void } {
  let ended = false;
  if (!streams) return { ended: () => false, done: () => undefined };
  const id = streams.open((code, details) => {
    ended = true;
    call.emit("error", asError({ code, details }));
    up()?.cancel();
  });
  md.set(FORWARDED_STREAM_HEADER, id);
  return { ended: () => ended, done: () => streams.close(id) };
}

/** The active daemon's answers, back to the caller: headers, messages (with flow control), the status. */
function answerFrom(up: ClientReadableStream<Buffer> | ClientDuplexStream<Buffer, Buffer>, call: Answering, c: Client, t: { ended(): boolean; done(): void }): void {
  up.on("metadata", (md: Metadata) => call.sendMetadata(md));
  up.on("data", (b: Buffer) => {
    if (t.ended()) return;
    if (!call.write(b)) {
      up.pause();
      call.once("drain", () => up.resume());
    }
  });
  up.on("error", () => {}); // the status below says it
  up.on("status", (s: StatusObject) => {
    t.done();
    if (t.ended()) return;
    if (s.code === status.OK) call.end(s.metadata);
    else call.emit("error", fromUpstream(s, c));
  });
}

/** The handlers of `def` (opaque) that forward each call to `upstream()` as made on `origin`. */
export function forwardingService(def: ServiceDefinition, upstream: () => Client | undefined, origin: ForwardOrigin, streams?: ForwardedStreams): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [name, m] of Object.entries(def)) {
    const path = m.path;
    if (!m.requestStream && !m.responseStream) {
      out[name] = (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
        const c = upstream();
        if (!c) return cb(asError(NO_ACTIVE) as never, null);
        const up = c.makeUnaryRequest(path, bytes, bytes, call.request, upstreamMetadata(call, origin), callOptions(call), (err, res) => {
          if (err) cb(fromUpstream(err, c) as never, null);
          else cb(null, res ?? Buffer.alloc(0));
        });
        up.on("metadata", (md: Metadata) => call.sendMetadata(md));
        call.on("cancelled", () => up.cancel());
      };
    } else if (!m.requestStream) {
      out[name] = (call: ServerWritableStream<Buffer, Buffer>) => {
        const c = upstream();
        if (!c) return void call.emit("error", asError(NO_ACTIVE));
        const md = upstreamMetadata(call, origin);
        let up: ClientReadableStream<Buffer> | undefined;
        const t = track(streams, md, call, () => up);
        up = c.makeServerStreamRequest(path, bytes, bytes, call.request, md, callOptions(call));
        const u = up;
        call.on("cancelled", () => {
          t.done();
          u.cancel();
        });
        answerFrom(u, call, c, t);
      };
    } else if (!m.responseStream) {
      out[name] = (call: ServerReadableStream<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
        const c = upstream();
        if (!c) return cb(asError(NO_ACTIVE) as never, null);
        const up = c.makeClientStreamRequest(path, bytes, bytes, upstreamMetadata(call, origin), callOptions(call), (err, res) => {
          if (err) cb(fromUpstream(err, c) as never, null);
          else cb(null, res ?? Buffer.alloc(0));
        });
        up.on("metadata", (md: Metadata) => call.sendMetadata(md));
        call.on("data", (b: Buffer) => {
          if (!up.write(b)) {
            call.pause();
            up.once("drain", () => call.resume());
          }
        });
        call.on("end", () => up.end());
        call.on("cancelled", () => up.cancel());
      };
    } else {
      out[name] = (call: ServerDuplexStream<Buffer, Buffer>) => {
        const c = upstream();
        if (!c) return void call.emit("error", asError(NO_ACTIVE));
        const md = upstreamMetadata(call, origin);
        let pending: ClientDuplexStream<Buffer, Buffer> | undefined;
        const t = track(streams, md, call, () => pending);
        const up = (pending = c.makeBidiStreamRequest(path, bytes, bytes, md, callOptions(call)));
        call.on("data", (b: Buffer) => {
          if (!up.write(b)) {
            call.pause();
            up.once("drain", () => call.resume());
          }
        });
        call.on("end", () => up.end());
        call.on("error", () => up.cancel());
        call.on("cancelled", () => {
          t.done();
          up.cancel();
        });
        answerFrom(up, call, c, t);
      };
    }
  }
  return out;
}
