/**
 * Ends of forwarded streams, signalled to the replica that carries them (docs/scaling.md,
 * "Replicas"). A replica multiplexes all its nodes' streams on one HTTP/2 connection to the
 * active daemon, so the status that ends one stream (a revocation) would wait in that
 * connection's queue behind every message already written to the others (a CRL pushed to every
 * node is a few megabytes for a thousand of them). So each replica also holds a
 * `Cluster/WatchEnds` stream on a connection of its own, and when the active ends a forwarded
 * stream it first tells the replica there: "end your stream N with this status". The replica
 * ends the caller's stream at once and drops whatever comes later for it on the shared
 * connection (forward.ts, ForwardedStreams). The status the caller gets is the active's own.
 *
 * Only a replica of this authority may watch (its client certificate, checked as for
 * forwarding), and it hears only the ends of streams it forwarded itself.
 */
import { Metadata, status } from "@grpc/grpc-js";
import type { ServerWritableStream, ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { FORWARDED_STREAM_HEADER } from "./forward.js";
import type { ForwardedCalls } from "./forwarded.js";
import { forwardedVia } from "./forwarded.js";

/** One end: the replica's stream number, and the status its caller gets. */
export type StreamEnd = { stream: string; code: number; details: string };

const encode = (m: StreamEnd): Buffer => Buffer.from(JSON.stringify(m));
const bytes = (b: Buffer): Buffer => b;
export const WATCH_ENDS_PATH = "/tether.cluster.v1.Cluster/WatchEnds";
export const decodeEnd = (b: Buffer): StreamEnd => JSON.parse(b.toString("utf8")) as StreamEnd;

/** The internal service between daemons of one cluster; messages are JSON (a replica runs the same tether). */
export const CLUSTER_SERVICE = {
  WatchEnds: {
    path: WATCH_ENDS_PATH,
    requestStream: false,
    responseStream: true,
    requestSerialize: bytes,
    requestDeserialize: bytes,
    responseSerialize: encode,
    responseDeserialize: decodeEnd,
    originalName: "watchEnds",
  },
} as unknown as ServiceDefinition;

type Watcher = ServerWritableStream<Buffer, StreamEnd>;

/** The active daemon's side: who watches, and the ends to tell them. */
export class StreamEnds {
  readonly #fw: ForwardedCalls;
  readonly #watchers = new Map<string, Set<Watcher>>();

  constructor(fw: ForwardedCalls) {
    this.#fw = fw;
  }

  /** The Cluster service for the node listener. */
  service(): UntypedServiceImplementation {
    return {
      WatchEnds: (call: Watcher) => {
        void this.#fw.replicaOf(call.getAuthContext?.()?.sslPeerCertificate).then((replica) => {
          if (!replica) {
            call.emit("error", {
              code: status.PERMISSION_DENIED,
              details: "FORWARD_REFUSED: only a replica daemon of this authority may watch stream ends",
              metadata: new Metadata(),
            });
            return;
          }
          let set = this.#watchers.get(replica);
          if (!set) this.#watchers.set(replica, (set = new Set()));
          set.add(call);
          const drop = () => {
            set.delete(call);
            if (set.size === 0 && this.#watchers.get(replica) === set) this.#watchers.delete(replica);
          };
          call.on("cancelled", drop);
          call.on("close", drop);
          call.sendMetadata(new Metadata()); // the replica knows it is heard from now on
        });
      },
    };
  }

  /** Before `call` (a stream a replica forwarded) is ended with this status: tell that replica to end it there now. */
  end(call: { metadata: Metadata }, code: status, details: string): void {
    const replica = forwardedVia(call);
    if (!replica) return;
    const stream = call.metadata.get(FORWARDED_STREAM_HEADER)[0];
    if (typeof stream !== "string") return;
    for (const w of this.#watchers.get(replica) ?? []) w.write({ stream, code, details });
  }
}
