/**
 * Preauthorizations: identity keys registered ahead of time, whose first pairing (still with a
 * valid code) is approved without an admin. Their use is written in the approval's own batch.
 */
import { checkIdentityKey, checkName, checkRole, deviceIdFromIdentityKey, toHex } from "@tether/crypto";
import type { Role } from "@tether/crypto";
import { AuditEvent } from "@tether/base";
import type { PairingContext } from "./context.js";
import { asInvalid } from "./context.js";
import type { DeviceRegistry } from "./devices.js";
import { PairingError } from "./errors.js";
import type { PreauthorizationRecord, RequestRecord } from "./records.js";
import type { RequestBook } from "./requests.js";

export class Preauthorizations {
  readonly #ctx: PairingContext;
  readonly #devices: DeviceRegistry;
  readonly #requests: RequestBook;

  constructor(ctx: PairingContext, devices: DeviceRegistry, requests: RequestBook) {
    this.#ctx = ctx;
    this.#devices = devices;
    this.#requests = requests;
  }

  /** Approve a request the handshake just created, if its device is preauthorized with its identity key. */
  async approveIfPreauthorized(created: RequestRecord): Promise<RequestRecord> {
    const pre = await this.#ctx.repo.get("preauthorizations", created.deviceId);
    if (pre && !pre.usedAt && pre.expiresAt > this.#ctx.clock.now() && pre.identityKey === created.identityKey) {
      // The approval and the preauthorization's use are one write: it cannot be used twice.
      const approved = await this.#requests.approveBy(this.#requests.pendingById(created.id), pre.role as Role, "preauthorization", (now) => [
        { table: "preauthorizations", type: "put", value: { ...pre, usedAt: now, requestId: created.id } },
      ]);
      return { ...created, state: "approved", role: approved.role ?? pre.role };
    }
    return created;
  }

  /**
   * Register an identity key ahead of time. A node pairing with it (and a valid code) is
   * approved without an admin, once.
   * @throws PairingError INVALID_ARGUMENT (key, role, expiry), DEVICE_REVOKED.
   */
  async preauthorize(o: { identityKey: unknown; name?: string; role?: string; expiresAt?: number }): Promise<PreauthorizationRecord> {
    let key: Uint8Array;
    let role: Role;
    try {
      key = checkIdentityKey(o.identityKey, "identityKey");
      role = checkRole(o.role || "node");
      if (o.name) checkName(o.name);
    } catch (cause) {
      throw asInvalid(cause);
    }
    const now = this.#ctx.clock.now();
    const expiresAt = o.expiresAt || now + 365 * 24 * 60 * 60_000;
    if (expiresAt <= now) throw new PairingError("INVALID_ARGUMENT", "the preauthorization would already be expired");
    const id = deviceIdFromIdentityKey(key);
    await this.#devices.refuseRevoked(id);
    const rec: PreauthorizationRecord = { id, identityKey: toHex(key), role, createdAt: now, expiresAt, ...(o.name ? { name: o.name } : {}) };
    await this.#ctx.repo.batch([{ table: "preauthorizations", type: "put", value: rec }], {
      audit: [{ type: AuditEvent.Preauthorized, actor: "admin", subject: id, details: { role, expiresAt } }],
    });
    return rec;
  }

  async listPreauthorizations(): Promise<PreauthorizationRecord[]> {
    return (await this.#ctx.repo.list("preauthorizations")).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** @throws PairingError DEVICE_NOT_FOUND when there is no such preauthorization. */
  async revokePreauthorization(id: string): Promise<void> {
    const p = await this.#ctx.repo.get("preauthorizations", id);
    if (!p) throw new PairingError("DEVICE_NOT_FOUND", `no preauthorization for ${id}`);
    await this.#ctx.repo.batch([{ table: "preauthorizations", type: "del", key: id }], {
      audit: [{ type: AuditEvent.PreauthorizationRevoked, actor: "admin", subject: id }],
    });
  }
}
