/**
 * The node-facing Pairing service: a thin adapter over PairingManager. These calls need no
 * certificate, so every one is admitted against per-address budgets first (RateLimiter):
 * every call takes a token from the refusal budget and gives it back if it succeeds (so only
 * refusals spend it, and concurrent calls cannot overdraw it), each Start also takes one
 * from the Start budget; an address with either used up is refused RATE_LIMITED before any
 * work. Refusals are audited through an AuditCoalescer, one entry per address, RPC and code
 * and window, so a flood costs a bounded number of entries and fsyncs.
 */
import type { ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { AuditCoalescer, AuditEvent } from "@tether/audit";
import type { AuditTrail } from "@tether/audit";
import { clip } from "@tether/base";
import { PairingError } from "@tether/pairing";
import type { PairingManager, RequestRecord } from "@tether/pairing";
import type {
  AwaitRequest,
  AwaitResponseInit,
  FinishRequest,
  FinishResponse,
  ReturnRequest,
  ReturnResponseInit,
  RevealRequest,
  RevealResponseInit,
  StartRequest,
  StartResponseInit,
} from "@tether/wire";
import { status } from "@grpc/grpc-js";
import { DaemonError, REFUSAL_MESSAGE_MAX_CHARS, toServiceError } from "../errors.js";
import type { RateLimit } from "../ratelimit.js";
import { RateLimiter, peerAddress } from "../ratelimit.js";
import type { Logger } from "../log.js";
import { unary } from "./rpc.js";

/** What admits and records the calls of unauthenticated callers. */
export type PairingGuard = {
  /** each Start takes a token */
  start: RateLimiter;
  /** each Pairing call takes a token, a successful one gives it back; an address without one is refused at once */
  refusals: RateLimiter;
  /** where refusals are audited, coalesced by address, RPC and code */
  audit: AuditCoalescer;
  /** told of every refused call with its code (the daemon's metrics); "INTERNAL" for an unexpected error */
  onRefused?: (code: string) => void;
  /** told of every handshake started (a Start that succeeded; the daemon's metrics) */
  onStarted?: () => void;
};

/**
 * The guard the daemon uses: both budgets of `limit` per address, and refusals coalesced
 * into `trail` over windows of `windowMs` (default DEFAULT_COALESCE_WINDOW_MS).
 */
export function pairingGuard(o: {
  limit: RateLimit;
  now: () => number;
  trail: Pick<AuditTrail, "appendAll">;
  windowMs?: number;
  onRefused?: (code: string) => void;
  onStarted?: () => void;
}): PairingGuard {
  return {
    start: new RateLimiter(o.limit, o.now),
    refusals: new RateLimiter(o.limit, o.now),
    audit: new AuditCoalescer({ trail: o.trail, now: o.now, ...(o.windowMs ? { windowMs: o.windowMs } : {}) }),
    ...(o.onRefused ? { onRefused: o.onRefused } : {}),
    ...(o.onStarted ? { onStarted: o.onStarted } : {}),
  };
}

type Rpc = "Start" | "Reveal" | "Finish" | "Await" | "Return";

/** The caller's own text an entry is about (selector, session or request id), clipped. */
function subjectOf(req: object): string {
  const r = req as { selector?: unknown; sessionId?: unknown; requestId?: unknown; deviceId?: unknown };
  const v = r.selector ?? r.sessionId ?? r.requestId ?? r.deviceId;
  return typeof v === "string" ? clip(v) : "";
}

export function pairingService(pm: PairingManager, caCertDer: Uint8Array, log: Logger, guard: PairingGuard): UntypedServiceImplementation {
  /**
   * Before any work: take the call's token from the refusal budget (given back when it
   * succeeds); an address that used up a budget is refused. A Start refused by the Start
   * budget keeps its refusal token.
   */
  const admit = (rpc: Rpc, peer: string): void => {
    if (!guard.refusals.take(peer) || (rpc === "Start" && !guard.start.take(peer))) {
      throw new DaemonError("RATE_LIMITED", "too many handshakes or refused calls from this address; slow down", {
        status: status.RESOURCE_EXHAUSTED,
        quiet: true,
      });
    }
  };
  /** Audit a refusal (code and reason only, never a secret; its token stays spent); rethrow. */
  const refused = async (rpc: Rpc, req: object, peer: string, err: unknown): Promise<never> => {
    guard.onRefused?.(err instanceof PairingError || err instanceof DaemonError ? err.code : "INTERNAL");
    if (err instanceof PairingError || err instanceof DaemonError) {
      await guard.audit.note(`${peer} ${rpc} ${err.code}`, {
        type: AuditEvent.HandshakeFailed,
        actor: "anonymous",
        subject: subjectOf(req),
        details: { rpc, code: err.code, reason: clip(err.message, REFUSAL_MESSAGE_MAX_CHARS), peer },
      });
    }
    throw err;
  };
  const guarded =
    <Req extends object, Res>(rpc: Rpc, fn: (req: Req, peer: string) => Promise<Res>) =>
    async (req: Req, call: ServerUnaryCall<Req, Res>): Promise<Res> => {
      const peer = peerAddress(call.getPeer());
      try {
        admit(rpc, peer);
        const res = await fn(req, peer);
        guard.refusals.give(peer);
        return res;
      } catch (err) {
        return refused(rpc, req, peer, err);
      }
    };
  const toAwait = (r: RequestRecord): AwaitResponseInit => ({
    state: r.state,
    role: r.role ?? "",
    certificate: r.certificate ? Buffer.from(r.certificate, "base64") : new Uint8Array(),
    caCertificate: r.state === "approved" ? caCertDer : new Uint8Array(),
    deviceId: r.deviceId,
    expiresAt: r.expiresAt,
    reason: r.reason ?? "",
  });

  return {
    Start: unary<StartRequest, StartResponseInit>(
      log,
      "Pairing.Start",
      guarded("Start", async (req) => {
        const out = await pm.start(req);
        guard.onStarted?.();
        log.info("handshake started", { method: req.method, selector: req.selector, session: out.sessionId });
        return out;
      }),
    ),
    Reveal: unary<RevealRequest, RevealResponseInit>(
      log,
      "Pairing.Reveal",
      guarded("Reveal", (req) => pm.reveal(req)),
    ),
    Finish: unary<FinishRequest, FinishResponse>(
      log,
      "Pairing.Finish",
      guarded("Finish", async (req, peer) => {
        const r = await pm.finish({ ...req, peer });
        log.info("pairing request created", { request: r.id, device: r.deviceId, name: r.name, role: r.requestedRole });
        return { requestId: r.id, deviceId: r.deviceId, expiresAt: r.expiresAt };
      }),
    ),
    Return: unary<ReturnRequest, ReturnResponseInit>(
      log,
      "Pairing.Return",
      guarded("Return", async (req, peer) => {
        const r = await pm.returnDevice(req);
        if (r.state === "approved") {
          log.info("device returned", { device: r.device.id, certificate: r.device.certificateFingerprint, peer });
          return { state: "approved", certificate: Buffer.from(r.device.certificate, "base64"), caCertificate: caCertDer, notAfter: r.device.certificateNotAfter };
        }
        log.info("return request created", { request: r.request.id, device: r.request.deviceId, name: r.request.name, peer });
        return { state: "pending", caCertificate: caCertDer, requestId: r.request.id, verificationCode: r.request.verificationCode, expiresAt: r.request.expiresAt };
      }),
    ),
    Await: (call: ServerWritableStream<AwaitRequest, AwaitResponseInit>) => {
      const peer = peerAddress(call.getPeer());
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
      const fail = (err: unknown) => {
        done = true;
        unsubscribe();
        call.emit("error", toServiceError(err, log, "Pairing.Await", peer));
      };
      call.on("cancelled", () => {
        done = true;
        unsubscribe();
        if (timer) clearTimeout(timer);
      });
      try {
        admit("Await", peer);
      } catch (err) {
        refused("Await", call.request, peer, err).catch(fail);
        return;
      }
      // Subscribe before reading, so a decision made in between is not missed; but hold it
      // back until the caller's signature has been checked.
      let early: RequestRecord | undefined;
      let authorized = false;
      unsubscribe = pm.onDecision(call.request.requestId, (r) => (authorized ? finish(r) : (early = r)));
      pm.authorizeAwait(call.request).then(
        (r) => {
          guard.refusals.give(peer);
          if (done) return;
          authorized = true;
          if (early) return finish(early);
          if (r.state !== "pending") return finish(r);
          call.write(toAwait(r));
          // Expiry is also announced by the sweeper; this timer makes it prompt.
          timer = setTimeout(
            () => {
              pm.getRequest(r.id).then(
                (cur) => cur.state !== "pending" && finish(cur),
                () => {},
              );
            },
            Math.max(0, r.expiresAt - pm.now()) + 50,
          );
          timer.unref();
        },
        (err: unknown) => refused("Await", call.request, peer, err).catch(fail),
      );
    },
  };
}
