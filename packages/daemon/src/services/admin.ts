/** The Admin service on the Unix socket: a thin adapter over PairingManager. */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { derToPem } from "@tether/ca";
import { formatJobScope, keyFingerprint, parseJobScope } from "@tether/pairing";
import type { CodePolicy, DeviceRecord, JobScope, PairingManager, PreauthorizationRecord, RequestView } from "@tether/pairing";
import { MAX_ADMIN_MESSAGE_BYTES } from "@tether/wire";
import type { CreateCodeRequest, CreateCodeResponse, Device, JobScope as WireJobScope, PairRequest, StatusResponse } from "@tether/wire";
import { capRecord } from "@tether/audit";
import type { AuditEntry, AuditTrail } from "@tether/audit";
import { clip } from "@tether/base";
import type { JobManager } from "@tether/jobs";
import type { Jwks } from "@tether/crypto";
import { wireCrl, withPolicy } from "../crl.js";
import type { Revocations } from "../crl.js";
import type { NodeHub, NodeView } from "../hub.js";
import { status as grpcStatus } from "@grpc/grpc-js";
import { DaemonError } from "../errors.js";
import { deviceIdArg, requestIdArg } from "../ids.js";
import type { Logger } from "../log.js";
import { unaryOn } from "./rpc.js";

/** Admin is served only on the admin socket. */
const unary = unaryOn("admin-socket");

export function toPairRequest(r: RequestView): PairRequest {
  return {
    id: r.id,
    state: r.state,
    deviceId: r.deviceId,
    name: r.name,
    requestedRole: r.requestedRole,
    role: r.role ?? "",
    keyFingerprint: r.keyFingerprint,
    verificationCode: r.verificationCode,
    method: r.method,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    decidedAt: r.decidedAt ?? 0,
    certificateFingerprint: r.certificateFingerprint ?? "",
    reason: r.reason ?? "",
    peerAddress: r.peerAddress ?? "",
  };
}

function toPreauth(p: PreauthorizationRecord) {
  return {
    deviceId: p.id,
    identityKey: p.identityKey,
    name: p.name ?? "",
    role: p.role,
    createdAt: p.createdAt,
    expiresAt: p.expiresAt,
    usedAt: p.usedAt ?? 0,
    requestId: p.requestId ?? "",
  };
}

/** A job scope from the wire (unset or kind "own": none). @throws PairingError INVALID_ARGUMENT */
function fromWireScope(w: WireJobScope | null | undefined): JobScope | undefined {
  return w ? parseJobScope(w.kind, w.labels ?? {}) : undefined;
}

function toWireScope(s: JobScope | undefined): WireJobScope {
  return s ? { kind: s.kind, labels: s.kind === "labels" ? s.labels : {} } : { kind: "own", labels: {} };
}

export function toDevice(d: DeviceRecord, live?: NodeView, via = ""): Device {
  return {
    id: d.id,
    name: d.name,
    role: d.role,
    identityKey: d.identityKey,
    keyFingerprint: keyFingerprint(d.identityKey),
    certificateFingerprint: d.certificateFingerprint,
    certificateSerial: d.certificateSerial,
    certificateNotAfter: d.certificateNotAfter,
    pairedAt: d.pairedAt,
    requestId: d.requestId,
    certificatePem: derToPem(new Uint8Array(Buffer.from(d.certificate, "base64")), "CERTIFICATE"),
    revokedAt: d.revokedAt ?? 0,
    revokeReason: d.revokeReason ?? "",
    online: live?.online ?? false,
    lastSeen: live?.lastSeen ?? d.lastSeen ?? 0,
    capabilities: live?.capabilities ?? (d.capabilities ?? []).map((c) => c.name),
    platform: live?.platform ?? d.platform ?? "",
    version: live?.version ?? d.version ?? "",
    inFlight: live?.inFlight ?? 0,
    labels: d.labels ?? {},
    jobScope: toWireScope(d.jobScope),
    rotationPending: Boolean(d.rotateRequested),
    rotationRequestedAt: d.rotateRequested ? (d.rotateRequestedAt ?? 0) : 0,
    connectedVia: via,
    returnNeedsApproval: Boolean(d.returnNeedsApproval),
    crlPending: false,
  };
}

/** At most this many entries in one ListAudit answer, */
export const AUDIT_PAGE_MAX_ENTRIES = 1000;
/** and at most this many bytes of them: a quarter of the admin message limit. */
export const AUDIT_PAGE_MAX_BYTES = MAX_ADMIN_MESSAGE_BYTES / 4;
/**
 * An entry stored larger than this (written before entries were capped, or by hand) is
 * listed with its fields held to the audit caps, marked where cut; verify() still checks
 * the stored entry, so the listed one no longer matches its hash.
 */
export const AUDIT_LISTED_ENTRY_MAX_BYTES = 64 * 1024;

type WireAuditEntry = { seq: number; time: number; type: string; actor: string; subject: string; details: string; prev: string; hash: string };

/** An entry as ListAudit sends it, and the bytes it takes (JSON: at least its protobuf size). */
function listed(e: AuditEntry): { entry: WireAuditEntry; bytes: number } {
  const entry = { seq: e.seq, time: e.time, type: e.type, actor: e.actor, subject: e.subject, details: JSON.stringify(e.details), prev: e.prev, hash: e.hash };
  const bytes = Buffer.byteLength(JSON.stringify(entry));
  if (bytes <= AUDIT_LISTED_ENTRY_MAX_BYTES) return { entry, bytes };
  const c = capRecord(e);
  const capped = { ...entry, type: clip(e.type), actor: c.actor, subject: c.subject, details: JSON.stringify(c.details), prev: clip(e.prev), hash: clip(e.hash) };
  return { entry: capped, bytes: Buffer.byteLength(JSON.stringify(capped)) };
}

/**
 * One page of ListAudit, whatever is stored: the newest entries below seq `before` (0: the
 * newest of all), at most `limit` (0: AUDIT_PAGE_MAX_ENTRIES) and AUDIT_PAGE_MAX_BYTES,
 * oldest first, keeping those from time `since` on. `nextBefore` is the oldest seq the page
 * looked at when older entries remain (ask again with `before` = it), else 0.
 */
export async function auditPage(audit: AuditTrail, req: { since: number; limit: number; before: number }): Promise<{ entries: WireAuditEntry[]; nextBefore: number }> {
  const read = await audit.entries({ limit: Math.min(req.limit || AUDIT_PAGE_MAX_ENTRIES, AUDIT_PAGE_MAX_ENTRIES), ...(req.before ? { before: req.before } : {}) });
  const entries: WireAuditEntry[] = [];
  let bytes = 0;
  let oldest = 0;
  for (let i = read.length - 1; i >= 0; i--) {
    const { entry, bytes: size } = listed(read[i] as AuditEntry);
    if (entries.length > 0 && bytes + size > AUDIT_PAGE_MAX_BYTES) break;
    oldest = entry.seq;
    if (req.since && entry.time < req.since) continue;
    entries.push(entry);
    bytes += size;
  }
  return { entries: entries.reverse(), nextBefore: oldest > 1 ? oldest : 0 };
}

export function adminService(
  pm: PairingManager,
  status: () => StatusResponse,
  log: Logger,
  fleet: {
    hub: NodeHub;
    jobs: JobManager;
    now: () => number;
    audit: AuditTrail;
    /** called before the audit log is read (writes the refusal counts still pending) */
    beforeAuditRead?: () => Promise<unknown>;
    revocations: Revocations;
    jwks: Jwks;
    /** renew the daemon's server and signer certificates now; describes the new ones */
    rotateDaemonCertificates: () => Promise<{ serverFingerprint: string; serverNotAfter: number; signerFingerprint: string; signerNotAfter: number }>;
  },
): UntypedServiceImplementation {
  const { audit } = fleet;
  const live = (id: string) => fleet.hub.node(id);
  return {
    CreateCode: unary<CreateCodeRequest, CreateCodeResponse>(log, "Admin.CreateCode", async (req) => {
      const { record, code } = await pm.mintCode(req.method, req.ttlSeconds * 1000, {
        role: (req.role || undefined) as CodePolicy["role"],
        labels: req.labels ?? {},
        approve: Boolean(req.approve),
        uses: req.uses ?? 0,
      });
      const p = record.policy ?? {};
      log.info("pairing code minted", {
        code: record.id,
        method: record.method,
        selector: record.selector,
        expiresAt: record.expiresAt,
        ...(record.policy ? { role: p.role ?? "", approve: Boolean(p.approve), uses: p.uses ?? 1 } : {}),
      });
      return {
        id: record.id,
        method: record.method,
        code: code.expose(),
        expiresAt: record.expiresAt,
        selector: record.selector,
        role: p.role ?? "",
        labels: p.labels ?? {},
        approve: Boolean(p.approve),
        uses: p.uses ?? 1,
      };
    }),
    ListRequests: unary<{ state: string }, { requests: PairRequest[] }>(log, "Admin.ListRequests", async (req) => ({
      requests: (await pm.listRequests(req.state || undefined)).map(toPairRequest),
    })),
    ApproveRequest: unary<{ id: string; role: string; jobScope?: WireJobScope | null; code: string }, PairRequest>(log, "Admin.ApproveRequest", async (req) => {
      const jobScope = fromWireScope(req.jobScope);
      // No id: the request is the one pending with this verification code (found with the approval, in one step).
      const id = req.id || !req.code ? requestIdArg(req.id, "id") : "";
      const r = await pm.approve(id, req.role || undefined, jobScope, req.code ? { code: req.code } : {});
      log.info("pairing request approved", {
        request: r.id,
        device: r.deviceId,
        role: r.role,
        certificate: r.certificateFingerprint,
        jobScope: formatJobScope(jobScope),
        codeChecked: Boolean(req.code),
      });
      return toPairRequest(r);
    }),
    RejectRequest: unary<{ id: string; reason: string }, PairRequest>(log, "Admin.RejectRequest", async (req) => {
      const r = await pm.reject(requestIdArg(req.id, "id"), req.reason || undefined);
      log.info("pairing request rejected", { request: r.id, device: r.deviceId });
      return toPairRequest(r);
    }),
    ListDevices: unary<object, { devices: Device[] }>(log, "Admin.ListDevices", async () => {
      const nodes = new Map(fleet.hub.nodes().map((n) => [n.deviceId, n]));
      return { devices: (await pm.listDevices()).map((d) => toDevice(d, nodes.get(d.id), fleet.hub.via(d.id))) };
    }),
    GetDevice: unary<{ id: string }, Device>(log, "Admin.GetDevice", async (req) => {
      const id = deviceIdArg(req.id, "id");
      return toDevice(await pm.getDevice(id), live(id), fleet.hub.via(id));
    }),
    RevokeDevice: unary<{ id: string; reason: string; waitCrl: boolean }, Device>(log, "Admin.RevokeDevice", async (req) => {
      const started = fleet.now();
      const id = deviceIdArg(req.id, "id");
      // First: its certificates refused and its streams ended, before anything waits (fleet.md §5.1).
      const restore = fleet.hub.revokeAhead(id);
      let d: DeviceRecord;
      try {
        d = await pm.revokeDevice(id, req.reason || undefined); // durable
      } catch (err) {
        restore();
        throw err;
      }
      const failed = await fleet.jobs.failDevice(d.id, `device revoked${req.reason ? `: ${req.reason}` : ""}`);
      // The CRL (signed, and pushed to every node) after the answer, unless asked to wait for it.
      const crl = fleet.revocations.update(d).catch((err: unknown) => log.error("CRL update failed", { error: (err as Error).message }));
      if (req.waitCrl) await crl;
      log.info("device revoked", { device: d.id, reason: d.revokeReason ?? "", failedJobs: failed, ms: fleet.now() - started, crlPending: !req.waitCrl });
      return { ...toDevice(d, live(d.id)), crlPending: !req.waitCrl };
    }),
    ClearRevocation: unary<{ id: string }, Device>(log, "Admin.ClearRevocation", async (req) => {
      const d = await pm.clearRevocation(deviceIdArg(req.id, "id"));
      log.info("device revocation cleared", { device: d.id });
      return toDevice(d, live(d.id));
    }),
    Status: unary<object, StatusResponse>(log, "Admin.Status", async () => status()),
    Preauthorize: unary<{ identityKey: string; name: string; role: string; expiresAt: number }, object>(log, "Admin.Preauthorize", async (req) => {
      if (!/^[0-9a-f]{64}$/i.test(req.identityKey)) {
        throw new DaemonError("INVALID_ARGUMENT", '"identityKey" must be 64 hex digits (an Ed25519 public key)', { status: grpcStatus.INVALID_ARGUMENT });
      }
      const p = await pm.preauthorize({
        identityKey: new Uint8Array(Buffer.from(req.identityKey, "hex")),
        ...(req.name ? { name: req.name } : {}),
        role: req.role,
        expiresAt: req.expiresAt,
      });
      return toPreauth(p);
    }),
    ListPreauthorizations: unary<object, object>(log, "Admin.ListPreauthorizations", async () => ({
      preauthorizations: (await pm.listPreauthorizations()).map(toPreauth),
    })),
    RevokePreauthorization: unary<{ deviceId: string }, object>(log, "Admin.RevokePreauthorization", async (req) => {
      deviceIdArg(req.deviceId, "deviceId");
      const p = (await pm.listPreauthorizations()).find((x) => x.id === req.deviceId);
      await pm.revokePreauthorization(req.deviceId);
      return toPreauth(p as PreauthorizationRecord);
    }),
    SetLabels: unary<{ id: string; set: Record<string, string>; remove: string[] }, Device>(log, "Admin.SetLabels", async (req) => {
      const d = await pm.setLabels(deviceIdArg(req.id, "id"), req.set ?? {}, req.remove ?? []);
      return toDevice(d, live(d.id));
    }),
    SetJobScope: unary<{ id: string; jobScope?: WireJobScope | null }, Device>(log, "Admin.SetJobScope", async (req) => {
      const d = await pm.setJobScope(deviceIdArg(req.id, "id"), fromWireScope(req.jobScope));
      log.info("job scope set", { device: d.id, jobScope: formatJobScope(d.jobScope) });
      return toDevice(d, live(d.id));
    }),
    SetReturnPolicy: unary<{ id: string; needsApproval: boolean }, Device>(log, "Admin.SetReturnPolicy", async (req) => {
      const d = await pm.setReturnPolicy(deviceIdArg(req.id, "id"), Boolean(req.needsApproval), "admin");
      return toDevice(d, live(d.id));
    }),
    RotateDevice: unary<{ id: string }, { sentNow: boolean; requestedAt: number }>(log, "Admin.RotateDevice", async (req) => {
      if ((await pm.getDevice(deviceIdArg(req.id, "id"))).revokedAt) {
        throw new DaemonError("DEVICE_REVOKED", `device ${req.id} is revoked; it cannot renew`, { status: grpcStatus.FAILED_PRECONDITION });
      }
      const d = await pm.setRotateRequested(req.id, true);
      const sentNow = fleet.hub.askToRenew(d.id, "rotation requested by the admin");
      log.info("device rotation requested", { device: d.id, sentNow });
      return { sentNow, requestedAt: d.rotateRequestedAt ?? 0 };
    }),
    GetCrl: unary<object, object>(log, "Admin.GetCrl", async () => {
      const c = await fleet.revocations.crl();
      return wireCrl(c);
    }),
    Verify: unary<{ certificate: Uint8Array; token: string; audience: string; peerDeviceId: string }, object>(log, "Admin.Verify", async (req) => {
      if (req.peerDeviceId) deviceIdArg(req.peerDeviceId, "peerDeviceId");
      return withPolicy(
        fleet.revocations,
        req.peerDeviceId,
        req.token ? fleet.revocations.verifyToken(req.token, req.audience, fleet.jwks) : fleet.revocations.verify(req.certificate),
      );
    }),
    GetJwks: unary<object, object>(log, "Admin.GetJwks", async () => ({ json: JSON.stringify(fleet.jwks) })),
    RotateDaemonCertificates: unary<object, object>(log, "Admin.RotateDaemonCertificates", async () => fleet.rotateDaemonCertificates()),
    ListAudit: unary<{ since: number; limit: number; before: number }, object>(log, "Admin.ListAudit", async (req) => {
      if (!req.before) await fleet.beforeAuditRead?.(); // the first page shows every refusal counted so far
      return auditPage(audit, req);
    }),
    VerifyAudit: unary<{ head: string }, object>(log, "Admin.VerifyAudit", async (req) => {
      if (req.head && !/^[0-9a-f]{64}$/.test(req.head)) {
        throw new DaemonError("INVALID_ARGUMENT", '"head" must be 64 lowercase hex digits (a head hash printed by audit verify)', { status: grpcStatus.INVALID_ARGUMENT });
      }
      const r = await audit.verify(req.head ? { head: req.head } : {});
      return r.ok
        ? { ok: true, entries: r.entries, head: r.head, brokenAt: 0, reason: "", gaps: r.gaps }
        : { ok: false, entries: r.entries, head: "", brokenAt: r.brokenAt, reason: r.reason, gaps: [] };
    }),
  };
}
