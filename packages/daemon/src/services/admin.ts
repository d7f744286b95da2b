/** The Admin service on the Unix socket: a thin adapter over PairingManager. */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { derToPem } from "@tether/ca";
import type { DeviceRecord, PairingManager, RequestView } from "@tether/pairing";
import { createHash } from "node:crypto";
import type { CreateCodeRequest, CreateCodeResponse, Device, PairRequest, StatusResponse } from "@tether/wire";
import type { Logger } from "../log.js";
import { unary } from "./rpc.js";

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
  };
}

export function toDevice(d: DeviceRecord): Device {
  return {
    id: d.id,
    name: d.name,
    role: d.role,
    identityKey: d.identityKey,
    keyFingerprint: createHash("sha256").update(Buffer.from(d.identityKey, "hex")).digest("hex"),
    certificateFingerprint: d.certificateFingerprint,
    certificateSerial: d.certificateSerial,
    certificateNotAfter: d.certificateNotAfter,
    pairedAt: d.pairedAt,
    requestId: d.requestId,
    certificatePem: derToPem(new Uint8Array(Buffer.from(d.certificate, "base64")), "CERTIFICATE"),
  };
}

export function adminService(pm: PairingManager, status: () => StatusResponse, log: Logger): UntypedServiceImplementation {
  return {
    CreateCode: unary<CreateCodeRequest, CreateCodeResponse>(log, "Admin.CreateCode", async (req) => {
      const { record, code } = await pm.mintCode(req.method, req.ttlSeconds * 1000);
      log.info("pairing code minted", { code: record.id, method: record.method, selector: record.selector, expiresAt: record.expiresAt });
      return { id: record.id, method: record.method, code: code.expose(), expiresAt: record.expiresAt, selector: record.selector };
    }),
    ListRequests: unary<{ state: string }, { requests: PairRequest[] }>(log, "Admin.ListRequests", async (req) => ({
      requests: (await pm.listRequests(req.state || undefined)).map(toPairRequest),
    })),
    ApproveRequest: unary<{ id: string; role: string }, PairRequest>(log, "Admin.ApproveRequest", async (req) => {
      const r = await pm.approve(req.id, req.role || undefined);
      log.info("pairing request approved", { request: r.id, device: r.deviceId, role: r.role, certificate: r.certificateFingerprint });
      return toPairRequest(r);
    }),
    RejectRequest: unary<{ id: string; reason: string }, PairRequest>(log, "Admin.RejectRequest", async (req) => {
      const r = await pm.reject(req.id, req.reason || undefined);
      log.info("pairing request rejected", { request: r.id, device: r.deviceId });
      return toPairRequest(r);
    }),
    ListDevices: unary<object, { devices: Device[] }>(log, "Admin.ListDevices", async () => ({
      devices: (await pm.listDevices()).map(toDevice),
    })),
    GetDevice: unary<{ id: string }, Device>(log, "Admin.GetDevice", async (req) => toDevice(await pm.getDevice(req.id))),
    Status: unary<object, StatusResponse>(log, "Admin.Status", async () => status()),
  };
}
