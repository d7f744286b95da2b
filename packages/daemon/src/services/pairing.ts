/** The node-facing Pairing service: a thin adapter over PairingManager. */
import type { ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { AuditEvent } from "@tether/audit";
import type { AuditTrail } from "@tether/audit";
import { PairingError } from "@tether/pairing";
import type { PairingManager, RequestRecord } from "@tether/pairing";
import type {
  AwaitRequest,
  AwaitResponse,
  FinishRequest,
  FinishResponse,
  RevealRequest,
  RevealResponse,
  StartRequest,
  StartResponse,
} from "@tether/wire";
import { status } from "@grpc/grpc-js";
import { DaemonError, toServiceError } from "../errors.js";
import type { RateLimiter } from "../ratelimit.js";
import { peerAddress } from "../ratelimit.js";
import type { Logger } from "../log.js";
import { unary } from "./rpc.js";

export function pairingService(
  pm: PairingManager,
  caCertDer: Uint8Array,
  log: Logger,
  startLimit: RateLimiter,
  audit: AuditTrail,
): UntypedServiceImplementation {
  /** Record refused handshake steps (code and reason only, never a secret), then rethrow. */
  const audited =
    <Req, Res>(rpcName: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) =>
    async (req: Req, call: ServerUnaryCall<Req, Res>): Promise<Res> => {
      try {
        return await fn(req, call);
      } catch (err) {
        if (err instanceof PairingError || err instanceof DaemonError) {
          const subject = (req as { selector?: string; sessionId?: string }).selector ?? (req as { sessionId?: string }).sessionId ?? "";
          await audit.append(AuditEvent.HandshakeFailed, "anonymous", subject, { rpc: rpcName, code: err.code, reason: err.message, peer: peerAddress(call.getPeer()) });
        }
        throw err;
      }
    };
  const toAwait = (r: RequestRecord): AwaitResponse => ({
    state: r.state,
    role: r.role ?? "",
    certificate: r.certificate ? Buffer.from(r.certificate, "base64") : new Uint8Array(),
    caCertificate: r.state === "approved" ? caCertDer : new Uint8Array(),
    deviceId: r.deviceId,
    expiresAt: r.expiresAt,
    reason: r.reason ?? "",
  });

  return {
    Start: unary<StartRequest, StartResponse>(log, "Pairing.Start", audited("Start", async (req, call) => {
      if (!startLimit.take(peerAddress(call.getPeer()))) {
        throw new DaemonError("RATE_LIMITED", "too many handshakes from this address; slow down", { status: status.RESOURCE_EXHAUSTED });
      }
      const out = await pm.start(req);
      log.info("handshake started", { method: req.method, selector: req.selector, session: out.sessionId });
      return out;
    })),
    Reveal: unary<RevealRequest, RevealResponse>(log, "Pairing.Reveal", audited("Reveal", (req) => pm.reveal(req))),
    Finish: unary<FinishRequest, FinishResponse>(log, "Pairing.Finish", audited("Finish", async (req) => {
      const r = await pm.finish(req);
      log.info("pairing request created", { request: r.id, device: r.deviceId, name: r.name, role: r.requestedRole });
      return { requestId: r.id, deviceId: r.deviceId, expiresAt: r.expiresAt };
    })),
    Await: (call: ServerWritableStream<AwaitRequest, AwaitResponse>) => {
      let done = false;
      let unsubscribe = () => {};
      let timer: NodeJS.Timeout | undefined;
      const finish = (r: RequestRecord) => {
        if (done) return;
        done = true;
        unsubscribe();
        if (timer) clearTimeout(timer);
        call.write(toAwait(r));
        call.end();
      };
      call.on("cancelled", () => {
        done = true;
        unsubscribe();
        if (timer) clearTimeout(timer);
      });
      // Subscribe before reading, so a decision made in between is not missed; but hold it
      // back until the caller's signature has been checked.
      let early: RequestRecord | undefined;
      unsubscribe = pm.onDecision(call.request.requestId, (r) => (authorized ? finish(r) : (early = r)));
      let authorized = false;
      pm.authorizeAwait(call.request).then(
        (r) => {
          if (done) return;
          authorized = true;
          if (early) return finish(early);
          if (r.state !== "pending") return finish(r);
          call.write(toAwait(r));
          // Expiry is also announced by the sweeper; this timer makes it prompt.
          timer = setTimeout(() => {
            pm.getRequest(r.id).then((cur) => cur.state !== "pending" && finish(cur), () => {});
          }, Math.max(0, r.expiresAt - pm.now()) + 50);
          timer.unref();
        },
        (err: unknown) => {
          done = true;
          unsubscribe();
          call.emit("error", toServiceError(err, log, "Pairing.Await"));
        },
      );
    },
  };
}
