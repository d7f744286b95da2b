/** Adapters from async functions to grpc-js handlers; every failure goes through toServiceError. */
import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import type { Logger } from "../log.js";
import { toServiceError } from "../errors.js";
import { peerAddress } from "../ratelimit.js";

/** Which server a service is mounted on: the node-facing TLS listener or the admin socket. */
export type Origin = "tls" | "admin-socket";
/** The `peer` of a call on the admin socket (a Unix socket has no address to log). */
export const ADMIN_SOCKET_PEER = "admin-socket";

/** Where a call came from, for log lines: the address without its port, or ADMIN_SOCKET_PEER. */
export function peerOf(call: { getPeer(): string }, origin: Origin): string {
  return origin === "admin-socket" ? ADMIN_SOCKET_PEER : peerAddress(call.getPeer());
}

/** The unary adapter of the services mounted on `origin`. */
export function unaryOn(origin: Origin) {
  return <Req, Res>(log: Logger, method: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      fn(call.request, call).then(
        (res) => callback(null, res),
        (err: unknown) => callback(toServiceError(err, log, method, peerOf(call, origin)) as never, null),
      );
    };
}

/** The unary adapter of the services on the TLS listener (Pairing, Node). */
export const unary = unaryOn("tls");
