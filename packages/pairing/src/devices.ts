/**
 * The device registry: every change of a paired device's record after its approval
 * (revocation and clearing, renewal, peer certificates, labels, job scope, the rotation flag,
 * presence), and the listeners each written change is published to. The approval that
 * creates a device record is a request's decision (requests.ts), published through here.
 */
import { KeyProofPurpose, bytes, fromHex, identityVerify, keyProofMessage, p256Verify, renewSignedMessage } from "@tether/crypto";
import { AuditEvent, GroupCommit } from "@tether/base";
import type { AuditRecord, Member } from "@tether/base";
import { PRESENCE_WRITE_INTERVAL_MS } from "./config.js";
import type { PairingContext } from "./context.js";
import { asInvalid } from "./context.js";
import { PairingError } from "./errors.js";
import type { DeviceRecord, JobScope } from "./records.js";
import { LABEL_RE, MAX_LABELS, formatJobScope } from "./scope.js";

/**
 * A Renew or IssuePeerCertificate request, for the device its caller authenticated as:
 * signed by the identity key, and by the requested TLS key (`keyProof`, docs/fleet.md §5A.1).
 */
export type KeyRequest = { deviceId: string; tlsPublicKey: unknown; timestamp: number; signature: unknown; keyProof: unknown };

/** A renewal waiting for its group commit: the certificate made, and the record written. */
type Renewal = { id: string; cert: Awaited<ReturnType<PairingContext["ca"]["issueNodeCert"]>>; written?: DeviceRecord };

/**
 * The record of device `id` for a key request: there and not revoked.
 * @throws PairingError DEVICE_NOT_FOUND, DEVICE_REVOKED
 */
function live(id: string, d: DeviceRecord | undefined): DeviceRecord {
  if (!d) throw new PairingError("DEVICE_NOT_FOUND", `no device ${id}`);
  if (d.revokedAt) throw new PairingError("DEVICE_REVOKED", `device ${id} is revoked`);
  return d;
}

/** Told of each written device change; the change is published once the promise settles. */
export type DeviceListener = (d: DeviceRecord) => void | Promise<void>;

export class DeviceRegistry {
  readonly #ctx: PairingContext;
  readonly #deviceListeners = new Set<DeviceListener>();
  readonly #renewals = new GroupCommit<Renewal>((members) => this.#commitRenewals(members));

  constructor(ctx: PairingContext) {
    this.#ctx = ctx;
  }

  /**
   * Subscribe to every change of a device record (approval, renewal, revocation, clearing).
   * A listener may return a promise: nothing that depends on the change (the decision sent to
   * a waiting node, the renewed certificate, the caller's answer) goes out before every
   * listener has settled. A listener handles its own errors; a rejection is ignored.
   */
  onDevice(listener: DeviceListener): () => void {
    this.#deviceListeners.add(listener);
    return () => this.#deviceListeners.delete(listener);
  }

  /** Tell every device listener of a written change and wait until each has settled. */
  async changed(d: DeviceRecord): Promise<void> {
    await Promise.allSettled([...this.#deviceListeners].map(async (listener) => listener(d)));
  }

  async refuseRevoked(deviceId: string): Promise<void> {
    const d = await this.#ctx.repo.get("devices", deviceId);
    if (d?.revokedAt) {
      throw new PairingError("DEVICE_REVOKED", `device ${deviceId} is revoked; before it can pair again, an admin must run \`tether devices unrevoke ${deviceId}\``);
    }
  }

  /**
   * Change a device record under the mutex, with the audit events of the change in the same
   * write. `fn` may answer undefined for "nothing to change": nothing is written or told.
   */
  async #updateDevice(
    id: string,
    fn: (d: DeviceRecord) => DeviceRecord | undefined,
    o: { audit?: (next: DeviceRecord, prev: DeviceRecord) => AuditRecord[]; sync?: boolean } = {},
  ): Promise<DeviceRecord> {
    const { repo } = this.#ctx;
    const r = await this.#ctx.mutex.run(async () => {
      const cur = await repo.get("devices", id);
      if (!cur) throw new PairingError("DEVICE_NOT_FOUND", `no device ${id}`);
      const next = fn(cur);
      if (!next) return { device: cur, changed: false };
      await repo.batch([{ table: "devices", type: "put", value: next }], {
        ...(o.audit ? { audit: o.audit(next, cur) } : {}),
        ...(o.sync === false ? { sync: false } : {}),
      });
      return { device: next, changed: true };
    });
    if (r.changed) await this.changed(r.device);
    return r.device;
  }

  /**
   * Revoke a device: durable before this resolves. Listeners end its streams.
   * Revoking a revoked device again is allowed and keeps the first time.
   * @throws PairingError DEVICE_NOT_FOUND
   */
  revokeDevice(id: string, reason: string | undefined, by: string): Promise<DeviceRecord> {
    return this.#updateDevice(
      id,
      (d) => {
        const at = d.revokedAt ?? this.#ctx.clock.now();
        const serials = d.revokedSerials ?? [];
        const add = [d.certificateSerial, ...(d.peerCertificateSerials ?? [])].filter((x) => x && !serials.some((y) => y.serial === x));
        return {
          ...d,
          revokedAt: at,
          revokedSerials: [...serials, ...add.map((serial) => ({ serial, at }))],
          ...(reason ? { revokeReason: reason.slice(0, 256) } : {}),
        };
      },
      { audit: (d) => [{ type: AuditEvent.DeviceRevoked, actor: by, subject: d.id, details: { reason: d.revokeReason ?? "" } }] },
    );
  }

  /**
   * Clear a revocation so the device may pair again. Its old certificate stays unusable:
   * only a new pairing issues a new one.
   * @throws PairingError DEVICE_NOT_FOUND, NOT_REVOKED
   */
  clearRevocation(id: string, by: string): Promise<DeviceRecord> {
    return this.#updateDevice(
      id,
      (d) => {
        if (!d.revokedAt) throw new PairingError("NOT_REVOKED", `device ${id} is not revoked`);
        const { revokedAt: _a, revokeReason: _r, ...rest } = d;
        return { ...rest, certificateFingerprint: "", certificateSerial: "" };
      },
      { audit: (d) => [{ type: AuditEvent.RevocationCleared, actor: by, subject: d.id }] },
    );
  }

  #checkedTlsKey(key: unknown): Uint8Array {
    try {
      const spki = bytes(key, [1, 256], "tlsPublicKey");
      this.#ctx.ca.checkNodePublicKey(spki);
      return spki;
    } catch (cause) {
      throw asInvalid(cause);
    }
  }

  /** The input checks of a key request (Renew, IssuePeerCertificate, Return): a P-256 key the CA would certify, and a key proof. */
  checkedKeyRequest(req: Pick<KeyRequest, "tlsPublicKey" | "keyProof">): { spki: Uint8Array; proof: Uint8Array } {
    const spki = this.#checkedTlsKey(req.tlsPublicKey);
    const proof = req.keyProof instanceof Uint8Array ? req.keyProof : new Uint8Array();
    if (proof.length === 0) {
      throw new PairingError("INVALID_ARGUMENT", '"keyProof" is required: a signature by the requested TLS key (update the node\'s tether)');
    }
    return { spki, proof };
  }

  /**
   * The checks shared by renewal and peer certificates: the device exists and is not revoked,
   * the timestamp is fresh, the identity key signed the request, and the requested key signed
   * it too (so nobody gets a certificate for a key they lack). No mutex is needed: it only
   * reads, and the caller checks the state again where it writes.
   */
  async #signedKeyRequest(req: KeyRequest, purpose: KeyProofPurpose, k: { spki: Uint8Array; proof: Uint8Array }, now: number): Promise<DeviceRecord> {
    const cur = live(req.deviceId, await this.#ctx.repo.get("devices", req.deviceId));
    this.#ctx.freshTimestamp(req.timestamp, now);
    const sig = req.signature instanceof Uint8Array ? req.signature : new Uint8Array();
    if (!identityVerify(fromHex(cur.identityKey), renewSignedMessage(req.deviceId, k.spki, req.timestamp), sig)) {
      throw new PairingError("BAD_SIGNATURE", "request is not signed by this device's identity key");
    }
    if (!p256Verify(k.spki, keyProofMessage(purpose, req.deviceId, k.spki, req.timestamp), k.proof)) {
      throw new PairingError("BAD_SIGNATURE", `"keyProof" is not a signature of this ${purpose} request by the requested TLS key`);
    }
    return cur;
  }

  /**
   * Issue a renewed certificate for a device (after the caller authenticated it by its current
   * certificate). The checks and the signing run outside the mutex, side by side; the write is
   * a group commit under the mutex (see #commitRenewals), so a revocation written first wins
   * and the certificate made for a revoked device is never stored nor sent.
   * @throws PairingError DEVICE_NOT_FOUND, DEVICE_REVOKED, BAD_SIGNATURE (identity signature
   *   or key proof), STALE_TIMESTAMP, INVALID_ARGUMENT (key, missing key proof).
   */
  async renew(req: KeyRequest): Promise<DeviceRecord> {
    const { ca, clock } = this.#ctx;
    const k = this.checkedKeyRequest(req);
    // The signatures are over the identity key, which never changes for a device id, so they
    // hold whatever else changes meanwhile; the state itself is read again in the commit.
    const seen = await this.#signedKeyRequest(req, KeyProofPurpose.Renew, k, clock.now());
    const cert = await ca.issueNodeCert({ deviceId: seen.id, publicKeySpkiDer: k.spki, now: clock.now() });
    const r: Renewal = { id: seen.id, cert };
    await this.#renewals.add([r], true);
    const next = r.written as DeviceRecord;
    await this.changed(next);
    return next;
  }

  /**
   * Write a group of renewals (every one that finished its signing while the last group was
   * being written) in one batch under the mutex: one fsync for all of them, and the mutex held
   * for that write as for any other device change, so what the next holder reads is written.
   * Each device's state is read again here: a revoked or removed device's renewal is refused
   * alone and its certificate dropped. Two renewals of one device in a group apply in order.
   */
  #commitRenewals(members: readonly Member<Renewal, never>[]): Promise<(Error | undefined)[]> {
    const { repo, mutex } = this.#ctx;
    return mutex.run(async () => {
      const latest = new Map<string, DeviceRecord>();
      const refused: (Error | undefined)[] = [];
      const ops: { table: "devices"; type: "put"; value: DeviceRecord }[] = [];
      const audit: AuditRecord[] = [];
      for (const m of members) {
        const r = m.ops[0] as Renewal;
        let cur: DeviceRecord;
        try {
          cur = live(r.id, latest.get(r.id) ?? (await repo.get("devices", r.id)));
        } catch (err) {
          refused.push(err as PairingError);
          continue;
        }
        const { rotateRequested: _done, rotateRequestedAt: _since, ...rest } = cur;
        const next: DeviceRecord = {
          ...rest,
          certificate: Buffer.from(r.cert.certDer).toString("base64"),
          certificateFingerprint: r.cert.fingerprint,
          certificateSerial: r.cert.serialHex,
          certificateNotAfter: r.cert.notAfter,
        };
        latest.set(r.id, next);
        r.written = next;
        ops.push({ table: "devices", type: "put", value: next });
        audit.push({ type: AuditEvent.CertificateRenewed, actor: cur.id, subject: cur.id, details: { certificate: r.cert.fingerprint, previous: cur.certificateFingerprint } });
        refused.push(undefined);
      }
      if (ops.length) await repo.batch(ops, { audit });
      return refused;
    });
  }

  /**
   * Set and remove labels on a device.
   * @throws PairingError DEVICE_NOT_FOUND, INVALID_ARGUMENT (label syntax).
   */
  setLabels(id: string, set: Record<string, string>, remove: string[]): Promise<DeviceRecord> {
    for (const [k, v] of Object.entries(set)) {
      if (!LABEL_RE.test(k) || !LABEL_RE.test(v))
        return Promise.reject(new PairingError("INVALID_ARGUMENT", `label ${k}=${v}: keys and values must match [a-z0-9][a-z0-9._-]{0,62}`));
    }
    return this.#updateDevice(
      id,
      (d) => {
        const labels = { ...(d.labels ?? {}), ...set };
        for (const k of remove) delete labels[k];
        if (Object.keys(labels).length > MAX_LABELS) throw new PairingError("INVALID_ARGUMENT", `at most ${MAX_LABELS} labels`);
        return { ...d, labels };
      },
      { audit: (d) => [{ type: AuditEvent.LabelsChanged, actor: "admin", subject: d.id, details: { labels: JSON.stringify(d.labels ?? {}) } }] },
    );
  }

  /**
   * Give an orchestrator a job scope (docs/fleet.md 6.1), or take it away (`undefined`: only
   * its own jobs again). Setting the scope it already has writes nothing.
   * @throws PairingError DEVICE_NOT_FOUND; INVALID_ARGUMENT when the device is not an orchestrator.
   */
  setJobScope(id: string, scope: JobScope | undefined, by: string): Promise<DeviceRecord> {
    return this.#updateDevice(
      id,
      (d) => {
        if (scope && d.role !== "orchestrator") {
          throw new PairingError("INVALID_ARGUMENT", `device ${id} has role "${d.role}": only an orchestrator can be given a job scope`);
        }
        if (formatJobScope(scope) === formatJobScope(d.jobScope)) return undefined;
        const { jobScope: _old, ...rest } = d;
        return scope ? { ...rest, jobScope: scope } : rest;
      },
      { audit: (d, prev) => [jobScopeAudit(by, d, prev.jobScope)] },
    );
  }

  /**
   * Mark (or clear) a pending rotation request for a device. Asking again while one is
   * pending keeps the time it was first asked.
   * @throws PairingError DEVICE_NOT_FOUND
   */
  setRotateRequested(id: string, on: boolean): Promise<DeviceRecord> {
    return this.#updateDevice(
      id,
      (d) => {
        const { rotateRequested: _r, rotateRequestedAt: since, ...rest } = d;
        if (!on) return rest;
        return { ...rest, rotateRequested: true, rotateRequestedAt: d.rotateRequested && since ? since : this.#ctx.clock.now() };
      },
      on ? { audit: (d) => [{ type: AuditEvent.RotationRequested, actor: "admin", subject: d.id }] } : {},
    );
  }

  /**
   * Issue a peer-server certificate (EKU serverAuth) for a device, after the same checks as
   * renew() (the key proof made for this purpose). Recorded on the device so revocation lists it too.
   * @throws PairingError as renew().
   */
  async issuePeerCertificate(req: KeyRequest) {
    const { repo, ca, clock } = this.#ctx;
    const k = this.checkedKeyRequest(req);
    const { cert, device } = await this.#ctx.mutex.run(async () => {
      const now = clock.now();
      const cur = await this.#signedKeyRequest(req, KeyProofPurpose.PeerCertificate, k, now);
      if (!ca.issuePeerServerCert) throw new PairingError("INVALID_ARGUMENT", "this authority does not issue peer certificates");
      const cert = await ca.issuePeerServerCert({ deviceId: cur.id, publicKeySpkiDer: k.spki, now });
      const device: DeviceRecord = { ...cur, peerCertificateSerials: [...(cur.peerCertificateSerials ?? []).slice(-9), cert.serialHex] };
      await repo.batch([{ table: "devices", type: "put", value: device }], {
        audit: [{ type: AuditEvent.CertificateIssued, actor: cur.id, subject: cur.id, details: { certificate: cert.fingerprint, purpose: "peer-server" } }],
      });
      return { cert, device };
    });
    await this.changed(device);
    return cert;
  }

  /**
   * Record what a connected node announced, and when it was last seen. Presence is not worth
   * an fsync, nor a write at all when nothing but the time changed within
   * PRESENCE_WRITE_INTERVAL_MS: a fleet reconnecting after a daemon restart then costs one
   * unsynced write per node, or none.
   */
  recordPresence(id: string, info: Pick<DeviceRecord, "capabilities" | "platform" | "version" | "lastSeen">): Promise<DeviceRecord> {
    return this.#updateDevice(id, (cur) => (presenceWorthWriting(cur, info) ? { ...cur, ...info } : undefined), { sync: false });
  }

  async listDevices(): Promise<DeviceRecord[]> {
    return (await this.#ctx.repo.list("devices")).sort((a, b) => a.pairedAt - b.pairedAt);
  }

  async getDevice(id: string): Promise<DeviceRecord> {
    const d = await this.#ctx.repo.get("devices", id);
    if (!d) throw new PairingError("DEVICE_NOT_FOUND", `no device ${id}`);
    return d;
  }
}

/**
 * Whether announced presence differs from a device record enough to be written: other
 * capabilities, platform or version, or a last-seen time PRESENCE_WRITE_INTERVAL_MS newer.
 */
export function presenceWorthWriting(cur: DeviceRecord, info: Pick<DeviceRecord, "capabilities" | "platform" | "version" | "lastSeen">): boolean {
  const same =
    (info.capabilities === undefined || JSON.stringify(info.capabilities) === JSON.stringify(cur.capabilities ?? [])) &&
    (info.platform === undefined || info.platform === cur.platform) &&
    (info.version === undefined || info.version === cur.version);
  return !same || (info.lastSeen ?? 0) - (cur.lastSeen ?? 0) >= PRESENCE_WRITE_INTERVAL_MS;
}

export function jobScopeAudit(by: string, d: DeviceRecord, previous: JobScope | undefined): AuditRecord {
  return { type: AuditEvent.JobScopeChanged, actor: by, subject: d.id, details: { scope: formatJobScope(d.jobScope), previous: formatJobScope(previous) } };
}
