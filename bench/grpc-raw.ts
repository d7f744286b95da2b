/**
 * A minimal gRPC client over node:http2 for the bench's fleet clients: one HTTP/2 session (one
 * TCP + TLS connection) per device and one streaming call on it. It is the gRPC wire protocol
 * (length-prefixed messages, grpc-status in trailers) without grpc-js's channel machinery, so
 * that thousands of simulated nodes on the same 2 cores leave the CPU to the server being
 * measured. Messages are (de)serialized by the same proto-loader definitions grpc-js uses.
 */
import { connect as h2connect, constants } from "node:http2";
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from "node:http2";
import type { SecureContext } from "node:tls";

export type Codec = { path: string; serialize(m: object): Buffer; deserialize(b: Buffer): Record<string, unknown> };

export type RawStream = {
  session: ClientHttp2Session;
  write(m: object): void;
  /** Close the connection (the client side). */
  close(): void;
};

/** gRPC status codes used here */
export const Status = { OK: 0, CANCELLED: 1, UNKNOWN: 2, UNAVAILABLE: 14 } as const;

/**
 * Open a session to `authority` (host:port) with `secureContext` (the device's key, certificate
 * and the CA to trust; server name "localhost", host name not checked: the CA is pinned) and
 * start one bidirectional call. `onEnd` is called once, with the gRPC status.
 */
export function openStream(o: {
  authority: string;
  /** the source address to connect from (the daemon caps handshakes in progress per address) */
  localAddress?: string;
  secureContext: SecureContext;
  codec: Codec;
  onMessage(m: Record<string, unknown>): void;
  onEnd(code: number, details: string): void;
}): RawStream {
  const session = h2connect(`https://${o.authority}`, {
    secureContext: o.secureContext,
    servername: "localhost",
    checkServerIdentity: () => undefined,
    rejectUnauthorized: true,
    // tls.connect hands localAddress on to the TCP connection; @types/node does not list it
    ...(o.localAddress ? ({ localAddress: o.localAddress } as object) : {}),
  });
  let ended = false;
  const end = (code: number, details: string) => {
    if (ended) return;
    ended = true;
    o.onEnd(code, details);
  };
  session.on("error", (e: Error) => end(Status.UNAVAILABLE, e.message));
  session.on("close", () => end(Status.UNAVAILABLE, "connection closed"));
  session.on("goaway", () => undefined);
  const stream: ClientHttp2Stream = session.request(
    {
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: o.codec.path,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
      te: "trailers",
    },
    { endStream: false },
  );
  const fromHeaders = (h: IncomingHttpHeaders) => {
    const s = h["grpc-status"];
    if (s !== undefined) end(Number(s), decodeURIComponent(String(h["grpc-message"] ?? "")));
  };
  stream.on("response", fromHeaders); // trailers-only answers
  stream.on("trailers", fromHeaders);
  stream.on("error", (e: Error) => end(Status.UNAVAILABLE, e.message));
  stream.on("close", () => end(Status.UNKNOWN, `stream closed (http2 code ${stream.rstCode})`));
  let buf: Buffer = Buffer.alloc(0);
  stream.on("data", (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      const msg = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      o.onMessage(o.codec.deserialize(msg));
    }
  });
  return {
    session,
    write(m) {
      if (ended || stream.destroyed) return;
      const body = o.codec.serialize(m);
      const frame = Buffer.allocUnsafe(5 + body.length);
      frame[0] = 0;
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
      stream.write(frame);
    },
    close() {
      ended = true;
      session.destroy();
    },
  };
}
