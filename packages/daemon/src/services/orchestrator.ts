/**
 * The Orchestrator service: a thin adapter over the job queue and the node hub. Served on the
 * TLS listener to devices with role "orchestrator" (each call authenticated; each sees only
 * the jobs it dispatched and those its job scope covers, see access.ts), and on the admin
 * socket for local use (the caller is "admin" and sees every job).
 */
import { status } from "@grpc/grpc-js";
import type { ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { FanoutRecord, JobManager, JobRecord } from "@tether/jobs";
import { JobError, isFinal } from "@tether/jobs";
import { jobAccess } from "../access.js";
import type { DeviceIndex } from "../auth.js";
import { authenticate } from "../auth.js";
import { DaemonError, toServiceError } from "../errors.js";
import type { NodeHub } from "../hub.js";
import { deviceIdArg } from "../ids.js";
import type { Logger } from "../log.js";
import { peerOf, unaryOn } from "./rpc.js";

export function toJob(j: JobRecord) {
  return {
    id: j.id,
    deviceId: j.deviceId,
    capability: j.capability,
    state: j.state,
    input: Buffer.from(j.input),
    output: Buffer.from(j.output ?? ""),
    error: j.error ?? "",
    createdAt: j.createdAt,
    deadline: j.deadline,
    updatedAt: j.updatedAt,
    attempts: j.attempts,
    idempotencyKey: j.idempotencyKey ?? "",
    dispatchedBy: j.dispatchedBy,
    fanoutId: j.fanoutId ?? "",
  };
}

function toFanout(f: FanoutRecord, list: JobRecord[], existed: boolean) {
  const states: Record<string, number> = {};
  for (const j of list) states[j.state] = (states[j.state] ?? 0) + 1;
  return {
    id: f.id,
    capability: f.capability,
    selector: f.selector,
    dispatchedBy: f.dispatchedBy,
    createdAt: f.createdAt,
    jobs: list.map((j) => ({ id: j.id, deviceId: j.deviceId, state: j.state, error: (j.error ?? "").slice(0, 256), attempts: j.attempts })),
    skipped: f.skipped,
    states,
    existed,
  };
}

export function orchestratorService(o: {
  jobs: JobManager;
  hub: NodeHub;
  index: DeviceIndex;
  now: () => number;
  log: Logger;
  /** "tls": callers must be orchestrator devices; "local": the admin socket */
  mode: "tls" | "local";
}): UntypedServiceImplementation {
  const caller = (call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>) =>
    o.mode === "local" ? { deviceId: "admin" } : authenticate(call, o.index, o.now(), ["orchestrator"]);
  const { jobs, hub, log } = o;
  const origin = o.mode === "local" ? "admin-socket" : "tls";
  const unary = unaryOn(origin);
  const accessOf = (peer: { deviceId: string }) => jobAccess(o.mode === "local" ? undefined : peer.deviceId, hub);
  return {
    ListNodes: unary<{ capability: string; online: string; deviceId: string }, object>(log, "Orchestrator.ListNodes", async (req, call) => {
      caller(call);
      if (req.online && req.online !== "true" && req.online !== "false") {
        throw new DaemonError("INVALID_ARGUMENT", 'online must be "", "true" or "false"', { status: status.INVALID_ARGUMENT });
      }
      const one = req.deviceId ? hub.node(deviceIdArg(req.deviceId, "deviceId")) : undefined;
      const nodes = (req.deviceId ? (one ? [one] : []) : hub.nodes())
        .filter((n) => !hub.describe(n.deviceId)?.revoked) // revoked devices take no work
        .filter((n) => (!req.capability || n.capabilities.includes(req.capability)) && (!req.online || String(n.online) === req.online));
      return { nodes };
    }),
    Dispatch: unary<{ deviceId: string; capability: string; input: Uint8Array; timeoutMs: number; idempotencyKey: string }, object>(
      log,
      "Orchestrator.Dispatch",
      async (req, call) => {
        const by = caller(call).deviceId;
        const j = await jobs.dispatch({
          deviceId: deviceIdArg(req.deviceId, "deviceId"),
          capability: req.capability,
          input: req.input,
          timeoutMs: req.timeoutMs,
          dispatchedBy: by,
          ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
        });
        log.debug("job dispatched", { job: j.id, device: j.deviceId, capability: j.capability, by });
        return toJob(j);
      },
    ),
    Run: unary<{ deviceId: string; capability: string; input: Uint8Array; timeoutMs: number; idempotencyKey: string }, object>(log, "Orchestrator.Run", async (req, call) => {
      const peer = caller(call);
      const j = await jobs.dispatch({
        deviceId: deviceIdArg(req.deviceId, "deviceId"),
        capability: req.capability,
        input: req.input,
        timeoutMs: req.timeoutMs,
        dispatchedBy: peer.deviceId,
        ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
      });
      log.debug("job dispatched", { job: j.id, device: j.deviceId, capability: j.capability, by: peer.deviceId, wait: true });
      const final = await new Promise<JobRecord>((resolve, reject) => {
        let settled = false;
        const finish = (f: () => void) => {
          if (settled) return;
          settled = true;
          unwatch();
          untrack();
          f();
        };
        const unwatch = jobs.watch(j.id, (x) => isFinal(x.state) && finish(() => resolve(x)));
        // A revoked orchestrator's waiting calls end with its streams.
        const untrack =
          o.mode === "tls" ? hub.track(peer.deviceId, { end: (code, details) => finish(() => reject(new DaemonError("CALLER_REVOKED", details, { status: code }))) }) : () => {};
        call.on("cancelled", () => finish(() => reject(new DaemonError("CANCELLED", "the caller went away", { status: status.CANCELLED }))));
        jobs.get(j.id).then(
          (x) => isFinal(x.state) && finish(() => resolve(x)),
          (err: unknown) => finish(() => reject(err)),
        );
      });
      return toJob(final);
    }),
    DispatchMany: unary<{ capability: string; labels: Record<string, string>; onlineOnly: boolean; input: Uint8Array; timeoutMs: number; idempotencyKey: string }, object>(
      log,
      "Orchestrator.DispatchMany",
      async (req, call) => {
        const by = caller(call).deviceId;
        const labels = req.labels ?? {};
        if (Object.keys(labels).length > 32) throw new DaemonError("INVALID_ARGUMENT", "a selector has at most 32 labels", { status: status.INVALID_ARGUMENT });
        const selector = [`cap=${req.capability}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)].join(",") + (req.onlineOnly ? " (online)" : "");
        const deviceIds: string[] = [];
        for (const d of hub.devices()) {
          if (d.revokedAt) continue;
          if (!Object.entries(labels).every(([k, v]) => d.labels?.[k] === v)) continue;
          const live = hub.describe(d.id);
          if (!live?.capabilities.includes(req.capability)) continue;
          if (req.onlineOnly && !hub.isOnline(d.id)) continue;
          deviceIds.push(d.id);
        }
        const r = await jobs.dispatchMany({
          deviceIds,
          capability: req.capability,
          input: req.input,
          timeoutMs: req.timeoutMs,
          dispatchedBy: by,
          selector,
          ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
        });
        log.info("fan-out dispatched", { fanout: r.fanout.id, capability: req.capability, jobs: r.jobs.length, skipped: r.fanout.skipped.length, by, existed: r.existed });
        return toFanout(r.fanout, r.jobs, r.existed);
      },
    ),
    GetFanout: unary<{ id: string }, object>(log, "Orchestrator.GetFanout", async (req, call) => {
      const r = await jobs.fanout(req.id, accessOf(caller(call)).canSee);
      return toFanout(r.fanout, r.jobs, false);
    }),
    GetJob: unary<{ id: string }, object>(log, "Orchestrator.GetJob", async (req, call) => {
      return toJob(await jobs.get(req.id, accessOf(caller(call)).canSee));
    }),
    CancelJob: unary<{ id: string; reason: string }, object>(log, "Orchestrator.CancelJob", async (req, call) => {
      const peer = caller(call);
      const by = peer.deviceId;
      const j = await jobs.cancel(req.id, req.reason || `cancelled by ${by}`, accessOf(peer).canSee);
      log.info("job cancelled", { job: j.id, by });
      return toJob(j);
    }),
    ListJobs: unary<{ deviceId: string; state: string; limit: number }, object>(log, "Orchestrator.ListJobs", async (req, call) => {
      const access = accessOf(caller(call));
      if (req.deviceId) deviceIdArg(req.deviceId, "deviceId");
      const list = await jobs.list({ deviceId: req.deviceId, state: req.state, limit: req.limit, ...access.list });
      return { jobs: list.map(toJob) };
    }),
    WatchJob: (call: ServerWritableStream<{ id: string }, object>) => {
      const from = peerOf(call, origin);
      let peer: { deviceId: string };
      try {
        peer = caller(call);
      } catch (err) {
        call.emit("error", toServiceError(err, log, "Orchestrator.WatchJob", from));
        return;
      }
      let done = false;
      let unwatch = () => {};
      let untrack = () => {};
      const stop = () => {
        done = true;
        unwatch();
        untrack();
      };
      call.on("cancelled", stop);
      call.on("close", stop);
      if (o.mode === "tls") {
        untrack = hub.track(peer.deviceId, {
          end: (code, details) => {
            stop();
            call.emit("error", { code, details });
          },
        });
      }
      const { canSee } = accessOf(peer);
      const fail = (err: unknown) => {
        if (done) return;
        stop();
        call.emit("error", toServiceError(err, log, "Orchestrator.WatchJob", from));
      };
      const send = (j: JobRecord) => {
        if (done) return;
        // A grant taken away (or a label changed) ends the access of a stream already open.
        if (!canSee(j)) return fail(new JobError("JOB_NOT_FOUND", `no job ${j.id}`));
        call.write(toJob(j));
        if (isFinal(j.state)) {
          stop();
          call.end();
        }
      };
      unwatch = jobs.watch(call.request.id, send);
      jobs.get(call.request.id, canSee).then(send, fail);
    },
  };
}
