/** gRPC plumbing for the node side: the Pairing client and status-to-error mapping. */
import { Metadata, credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { MAX_NODE_MESSAGE_BYTES, tetherPackageDefinition } from "@tether/wire";
import { NodeError } from "./errors.js";

export type PairingClient = Client & {
  Start(req: unknown, md: Metadata, opts: object, cb: (err: ServiceError | null, res: unknown) => void): void;
  Finish(req: unknown, md: Metadata, opts: object, cb: (err: ServiceError | null, res: unknown) => void): void;
  Await(req: unknown, md: Metadata, opts: object): NodeJS.ReadableStream & { cancel(): void };
};

type Ctor = new (address: string, creds: ReturnType<typeof credentials.createSsl>, options: object) => PairingClient;

/**
 * A client for the Pairing service over TLS that does not verify the server certificate:
 * before pairing the node has no CA to verify against, and the handshake authenticates the
 * daemon itself (docs/security.md, "Pairing transport").
 */
export function pairingClient(address: string): PairingClient {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: { Pairing: Ctor } } };
  const creds = credentials.createSsl(null, null, null, { rejectUnauthorized: false });
  return new pkg.tether.v1.Pairing(address, creds, {
    "grpc.max_receive_message_length": MAX_NODE_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_NODE_MESSAGE_BYTES,
    "grpc.ssl_target_name_override": "localhost",
  });
}

export function unaryCall<Res>(
  fn: (req: unknown, md: Metadata, opts: object, cb: (err: ServiceError | null, res: unknown) => void) => void,
  req: unknown,
  timeoutMs = 30_000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(fromStatus(err)) : resolve(res as Res)));
  });
}

/** A daemon refusal as a NodeError; the daemon's message is already safe to show. */
export function fromStatus(err: ServiceError): NodeError {
  const name = status[err.code] ?? String(err.code);
  if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) {
    return new NodeError("UNREACHABLE", `cannot reach the daemon: ${err.details || name}`, { cause: err, status: name });
  }
  return new NodeError("DAEMON_REFUSED", `daemon refused (${name}): ${err.details}`, { cause: err, status: name });
}
