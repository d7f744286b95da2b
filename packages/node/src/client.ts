/** gRPC plumbing for the node side: the Pairing client and status-to-error mapping. */
import { InterceptingCall, Metadata, credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import type { Client, Interceptor, ServiceError } from "@grpc/grpc-js";
import { MAX_NODE_MESSAGE_BYTES, RENEW_NOW_HEADER, tetherPackageDefinition } from "@tether/wire";
import { clip, visible } from "@tether/base";
import { NodeError } from "./errors.js";
import type { NodeErrorCode } from "./errors.js";

export type PairingClient = Client & {
  Reveal(req: unknown, md: Metadata, opts: object, cb: (err: ServiceError | null, res: unknown) => void): void;
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
export function pairingClient(address: string, caPem?: string): PairingClient {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: { Pairing: Ctor } } };
  const creds = caPem
    ? // After the handshake the node knows the CA: verify the chain (the CA is private and
      // pinned, so the host name is not what identifies the daemon).
      credentials.createSsl(Buffer.from(caPem), null, null, { checkServerIdentity: () => undefined })
    : credentials.createSsl(null, null, null, { rejectUnauthorized: false });
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

/** Daemon error codes (the prefix of a status's details) that have their own NodeError code. */
const REFUSALS: Record<string, NodeErrorCode> = {
  CODE_EXPIRED: "CODE_EXPIRED",
  CODE_USED: "CODE_UNUSABLE",
  CODE_BURNED: "CODE_UNUSABLE",
  CODE_NOT_FOUND: "CODE_UNUSABLE",
  WRONG_CODE: "WRONG_CODE",
  DEVICE_REVOKED: "REVOKED",
};

/** Text that came from the network, made safe to print: control characters visible, 512 characters at most. */
export function printable(s: string): string {
  return visible(clip(s, 512));
}

/**
 * The part of a gRPC "no connection" status that says why, e.g. "connect ECONNREFUSED
 * 127.0.0.1:7443" out of "No connection established. Last error: Error: connect ECONNREFUSED
 * 127.0.0.1:7443. Resolution note: "; other details as they are.
 */
export function unreachableWhy(details: string): string {
  return /Last error: (?:Error: )?(.*?)\.?\s*(?:Resolution note:.*)?$/s.exec(details)?.[1] || details;
}

/** A daemon refusal as a NodeError; the daemon's message is already safe to show. */
export function fromStatus(err: ServiceError): NodeError {
  const name = status[err.code] ?? String(err.code);
  const details = printable(err.details || "");
  if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) {
    return new NodeError("UNREACHABLE", `cannot reach the daemon: ${unreachableWhy(details) || name}`, { cause: err, status: name });
  }
  const code = REFUSALS[/^([A-Z_]+):/.exec(details)?.[1] ?? ""] ?? "DAEMON_REFUSED";
  return new NodeError(code, `daemon refused (${name}): ${details}`, { cause: err, status: name });
}

/** Mutual-TLS channel credentials for a paired device (the private CA is pinned, so host names are not checked). */
export function deviceCredentials(c: { caPem: string; certPem: string; keyPem: { expose(): string } }) {
  return credentials.createSsl(Buffer.from(c.caPem), Buffer.from(c.keyPem.expose()), Buffer.from(c.certPem), {
    checkServerIdentity: () => undefined,
  });
}

/** Options for long-lived device channels: HTTP/2 keepalive notices a dead daemon within 30 s. */
export const DEVICE_CHANNEL_OPTIONS = {
  "grpc.max_receive_message_length": MAX_NODE_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_NODE_MESSAGE_BYTES,
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  // The CA is pinned and host names are not checked; a fixed SNI avoids sending an IP as ServerName.
  "grpc.ssl_target_name_override": "localhost",
} as const;

/**
 * A client interceptor that calls `onHint` when a call's response headers carry
 * `tether-renew-now` (the admin asked this device to renew, docs/fleet.md §5A.4). `onHint`
 * gets a token taken when the call started, so a hint on a call that began before a renewal
 * can be told from a new one.
 */
export function renewHintInterceptor<T>(token: () => T, onHint: (startedWith: T) => void): Interceptor {
  return (options, nextCall) => {
    const startedWith = token();
    return new InterceptingCall(nextCall(options), {
      start: (metadata, _listener, next) =>
        next(metadata, {
          onReceiveMetadata: (md: Metadata, nextMd: (m: Metadata) => void) => {
            if (md.get(RENEW_NOW_HEADER).length > 0) onHint(startedWith);
            nextMd(md);
          },
        }),
    });
  };
}

/** A client constructor for any tether.v1 service. */
export function serviceClient<T>(service: "Node" | "Orchestrator" | "Pairing"): new (address: string, creds: ReturnType<typeof credentials.createSsl>, options: object) => T {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: Record<string, never> } };
  return pkg.tether.v1[service] as never;
}
