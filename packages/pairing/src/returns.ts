/**
 * A device back after its certificate expired (Pairing.Return, docs/fleet.md §5A.5). No
 * certificate authenticates it; its identity key does: the long-term Ed25519 key that never
 * left the device and signed its pairing transcript. Within the return grace of the expiry
 * (and unless an admin said its returns need approval) the daemon issues a new certificate for
 * the new TLS key at once; otherwise the return waits as a pending request (method "return"),
 * which an admin approves or rejects like any other. A revoked device never returns this way.
 */
import { AuditEvent } from "@tether/base";
import { fromHex, identityVerify, KeyProofPurpose, keyProofMessage, p256Verify, returnSignedMessage, returnVerificationCode } from "@tether/crypto";
import type { PairingContext } from "./context.js";
import type { DeviceRegistry } from "./devices.js";
import { PairingError } from "./errors.js";
import type { DeviceRecord, RequestRecord } from "./records.js";

/** What a device sends: its id, the new TLS key, a fresh timestamp, and the two signatures. */
export type ReturnInput = { deviceId: unknown; tlsPublicKey: unknown; timestamp: unknown; signature: unknown; keyProof: unknown };

export type ReturnOutcome = { state: "approved"; device: DeviceRecord } | { state: "pending"; request: RequestRecord };

const DEVICE_ID = /^dev_[a-z2-7]{26}$/;

export class Returns {
  readonly #ctx: PairingContext;
  readonly #devices: DeviceRegistry;

  constructor(ctx: PairingContext, devices: DeviceRegistry) {
    this.#ctx = ctx;
    this.#devices = devices;
  }

  /**
   * Check a return request and answer it: a new certificate (within the grace), or a pending
   * return request. One durable write either way, which also records the request's timestamp
   * on the device, so the same request (or an older one) is refused as a replay.
   * @throws PairingError INVALID_ARGUMENT (device id, key, missing key proof), DEVICE_NOT_FOUND,
   *   DEVICE_REVOKED, STALE_TIMESTAMP, REPLAYED, BAD_SIGNATURE (identity signature or key proof).
   *   Nothing is written when it throws.
   */
  async return(req: ReturnInput): Promise<ReturnOutcome> {
    const { repo, ca, clock, config } = this.#ctx;
    if (typeof req.deviceId !== "string" || !DEVICE_ID.test(req.deviceId)) {
      throw new PairingError("INVALID_ARGUMENT", '"deviceId" must be a device id (dev_ and 26 base32 characters)');
    }
    const deviceId = req.deviceId;
    const timestamp = typeof req.timestamp === "number" ? req.timestamp : Number(req.timestamp);
    const k = this.#devices.checkedKeyRequest(req);
    const out = await this.#ctx.mutex.run(async (): Promise<ReturnOutcome> => {
      const now = clock.now();
      const cur = await repo.get("devices", deviceId);
      if (!cur) throw new PairingError("DEVICE_NOT_FOUND", `no device ${deviceId}: pair it with a code`);
      if (cur.revokedAt)
        throw new PairingError("DEVICE_REVOKED", `device ${deviceId} is revoked: a revoked device cannot return; an admin must unrevoke it and it must pair again`);
      this.#ctx.freshTimestamp(timestamp, now);
      if (cur.lastReturnAt !== undefined && timestamp <= cur.lastReturnAt) {
        throw new PairingError("REPLAYED", "this return request (or a newer one) was already used: sign a new one");
      }
      const signed = returnSignedMessage(deviceId, k.spki, timestamp);
      const sig = req.signature instanceof Uint8Array ? req.signature : new Uint8Array();
      if (!identityVerify(fromHex(cur.identityKey), signed, sig)) throw new PairingError("BAD_SIGNATURE", "return request is not signed by this device's identity key");
      if (!p256Verify(k.spki, keyProofMessage(KeyProofPurpose.Return, deviceId, k.spki, timestamp), k.proof)) {
        throw new PairingError("BAD_SIGNATURE", '"keyProof" is not a signature of this Pairing.Return request by the requested TLS key');
      }
      const expiredForMs = now - cur.certificateNotAfter;
      const within = config.returnGraceMs > 0 && expiredForMs <= config.returnGraceMs;
      const away = { awayMs: cur.lastSeen ? now - cur.lastSeen : 0, expiredForMs };
      if (within && !cur.returnNeedsApproval) {
        const cert = await ca.issueNodeCert({ deviceId, publicKeySpkiDer: k.spki, now });
        const { rotateRequested: _r, rotateRequestedAt: _s, ...rest } = cur;
        const next: DeviceRecord = {
          ...rest,
          certificate: Buffer.from(cert.certDer).toString("base64"),
          certificateFingerprint: cert.fingerprint,
          certificateSerial: cert.serialHex,
          certificateNotAfter: cert.notAfter,
          lastReturnAt: timestamp,
        };
        await repo.batch([{ table: "devices", type: "put", value: next }], {
          audit: [
            {
              type: AuditEvent.DeviceReturned,
              actor: deviceId,
              subject: deviceId,
              details: { certificate: cert.fingerprint, previous: cur.certificateFingerprint, by: "grace", ...away },
            },
          ],
        });
        return { state: "approved", device: next };
      }
      // A newer return request replaces one still pending for the device.
      const superseded = await this.#pendingReturnOf(deviceId);
      const request: RequestRecord = {
        id: this.#ctx.id("req_"),
        state: "pending",
        deviceId,
        name: cur.name,
        requestedRole: cur.role,
        identityKey: cur.identityKey,
        tlsPublicKey: Buffer.from(k.spki).toString("base64"),
        verificationCode: returnVerificationCode(signed),
        method: "return",
        codeId: "",
        away: { lastSeen: cur.lastSeen ?? 0, certificateNotAfter: cur.certificateNotAfter },
        createdAt: now,
        expiresAt: now + config.requestTtlMs,
      };
      await repo.batch(
        [
          { table: "requests", type: "put", value: request },
          { table: "pendingRequests", type: "put", value: { id: request.id } },
          { table: "devices", type: "put", value: { ...cur, lastReturnAt: timestamp } },
          ...(superseded
            ? [
                { table: "requests" as const, type: "put" as const, value: { ...superseded, state: "expired" as const, reason: `superseded by ${request.id}` } },
                { table: "pendingRequests" as const, type: "del" as const, key: superseded.id },
              ]
            : []),
        ],
        {
          audit: [
            {
              type: AuditEvent.RequestCreated,
              actor: deviceId,
              subject: request.id,
              details: { name: cur.name, role: cur.role, method: "return", why: within ? "needs-approval" : "past-grace", ...away },
            },
          ],
        },
      );
      return { state: "pending", request };
    });
    if (out.state === "approved") await this.#devices.changed(out.device);
    return out;
  }

  async #pendingReturnOf(deviceId: string): Promise<RequestRecord | undefined> {
    for (const { id } of await this.#ctx.repo.list("pendingRequests")) {
      const r = await this.#ctx.repo.get("requests", id);
      if (r?.state === "pending" && r.method === "return" && r.deviceId === deviceId) return r;
    }
    return undefined;
  }

  /**
   * Whether this device's returns wait for an admin even within the grace.
   * @throws PairingError DEVICE_NOT_FOUND
   */
  async setReturnPolicy(id: string, needsApproval: boolean, by: string): Promise<DeviceRecord> {
    const { repo } = this.#ctx;
    const d = await this.#ctx.mutex.run(async () => {
      const cur = await repo.get("devices", id);
      if (!cur) throw new PairingError("DEVICE_NOT_FOUND", `no device ${id}`);
      if (Boolean(cur.returnNeedsApproval) === needsApproval) return cur;
      const { returnNeedsApproval: _old, ...rest } = cur;
      const next: DeviceRecord = needsApproval ? { ...rest, returnNeedsApproval: true } : rest;
      await repo.batch([{ table: "devices", type: "put", value: next }], {
        audit: [{ type: AuditEvent.ReturnPolicyChanged, actor: by, subject: id, details: { needsApproval } }],
      });
      return next;
    });
    await this.#devices.changed(d);
    return d;
  }
}
