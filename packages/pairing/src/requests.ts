/**
 * Pairing requests after the handshake created them: a node's signed waiting, the admin's
 * view, and the decisions (approve, reject, expire). A decision is one write of the request,
 * its pending-index entry and (on approval) the device record, published to the device
 * registry's listeners before the waiting node and the outcome listeners are told.
 */
import { EventEmitter } from "node:events";
import { awaitSignedMessage, checkRole, fromHex, identityVerify, parseVerificationCode, sha256Hex, verificationCodesMatch } from "@tether/crypto";
import type { Role } from "@tether/crypto";
import { AuditEvent } from "@tether/base";
import type { AuditRecord } from "@tether/base";
import type { PairingContext } from "./context.js";
import { asInvalid, checkId } from "./context.js";
import type { DeviceRegistry } from "./devices.js";
import { jobScopeAudit } from "./devices.js";
import { PairingError } from "./errors.js";
import type { DeviceRecord, JobScope, PairingOp, RequestRecord } from "./records.js";

/** Finds the pending request a decision is about (run under the mutex); throws if there is none. */
export type FindRequest = (now: number) => Promise<RequestRecord>;

/** An ambiguous verification code's refusal names at most this many of the requests that have it. */
const AMBIGUOUS_SHOWN = 5;

/** The admin's view of a request, with the derived fields the CLI shows. */
export type RequestView = RequestRecord & { keyFingerprint: string };

export class RequestBook {
  readonly #ctx: PairingContext;
  readonly #devices: DeviceRegistry;
  readonly #events = new EventEmitter();
  /**
   * Decisions written but not yet published (their device listeners have not all settled):
   * a reader of such a request waits, so nobody is sent a certificate the index lacks.
   */
  readonly #publishing = new Map<string, Promise<void>>();

  constructor(ctx: PairingContext, devices: DeviceRegistry) {
    this.#ctx = ctx;
    this.#devices = devices;
    this.#events.setMaxListeners(0);
  }

  /**
   * Check a node's signed Await and return its request (with expiry applied).
   * @throws PairingError INVALID_ARGUMENT (a malformed request id, before any lookup),
   *   REQUEST_NOT_FOUND, STALE_TIMESTAMP, BAD_SIGNATURE.
   */
  async authorizeAwait(req: { requestId: string; timestamp: number; signature: unknown }): Promise<RequestRecord> {
    checkRequestId(req.requestId);
    const now = this.#ctx.clock.now();
    const found = await this.#ctx.repo.get("requests", req.requestId);
    // Same answer for "no such request" and "bad signature" would hide existence, but ids are
    // random and unguessable; a precise error helps the operator more.
    if (!found) throw new PairingError("REQUEST_NOT_FOUND", "no pairing request with that id");
    await this.#publishing.get(req.requestId);
    this.#ctx.freshTimestamp(req.timestamp, now);
    const sig = req.signature instanceof Uint8Array ? req.signature : new Uint8Array();
    if (!identityVerify(fromHex(found.identityKey), awaitSignedMessage(req.requestId, req.timestamp), sig)) {
      throw new PairingError("BAD_SIGNATURE", "signature does not verify with the request's identity key");
    }
    return withExpiry(found, now);
  }

  /** Subscribe to decisions (approved, rejected, expired). Returns the unsubscribe function. */
  onDecision(requestId: string, listener: (r: RequestRecord) => void): () => void {
    if (!REQUEST_ID_PATTERN.test(requestId)) return () => {}; // no such request can be decided
    const ev = `decision:${requestId}`;
    this.#events.on(ev, listener);
    return () => this.#events.off(ev, listener);
  }

  /**
   * Be told of every request's outcome once it is durable: approved (by an admin or a
   * preauthorization), rejected, or expired (written by the sweep). Returns the unsubscribe.
   */
  onOutcome(listener: (r: RequestRecord) => void): () => void {
    this.#events.on("outcome", listener);
    return () => this.#events.off("outcome", listener);
  }

  /** Tell the outcome listeners; one that throws does not undo a decision that is written. */
  #outcome(r: RequestRecord): void {
    try {
      this.#events.emit("outcome", r);
    } catch {
      // a counting listener's mistake
    }
  }

  async getRequest(id: string): Promise<RequestView> {
    const r = await this.#ctx.repo.get("requests", id);
    if (!r) throw new PairingError("REQUEST_NOT_FOUND", `no pairing request ${id}`);
    await this.#publishing.get(id);
    return view(withExpiry(r, this.#ctx.clock.now()));
  }

  async listRequests(state?: string): Promise<RequestView[]> {
    if (state && !["pending", "approved", "rejected", "expired"].includes(state)) {
      throw new PairingError("INVALID_ARGUMENT", "state must be pending, approved, rejected or expired");
    }
    const now = this.#ctx.clock.now();
    const records = state === "pending" ? await this.#pendingRequests() : await this.#ctx.repo.list("requests");
    return records
      .map((r) => withExpiry(r, now))
      .filter((r) => !state || r.state === state)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map(view);
  }

  /** The request `id` if it is pending (and, with `code`, has that verification code). Caller holds the mutex. */
  pendingById(id: string, code?: string): FindRequest {
    return async (now) => {
      const found = await this.#ctx.repo.get("requests", id);
      if (!found) throw new PairingError("REQUEST_NOT_FOUND", `no pairing request ${id}`);
      const current = withExpiry(found, now);
      if (current.state !== "pending") {
        throw new PairingError("REQUEST_NOT_PENDING", `request ${id} is already ${current.state}`);
      }
      if (code !== undefined && !verificationCodesMatch(current.verificationCode, code)) {
        throw new PairingError(
          "VERIFICATION_MISMATCH",
          `request ${id} has another verification code than the one given; nothing was approved. ` +
            "Compare again with the code the node printed: if they differ, this request is not from that node (or someone is in the middle), so reject it",
        );
      }
      return current;
    };
  }

  /** The one pending request with verification code `code`. Caller holds the mutex. */
  #pendingByCode(code: string): FindRequest {
    return async (now) => {
      // Every pending request is compared (in constant time), not just up to the first match.
      const matches = (await this.#pendingRequests()).map((r) => withExpiry(r, now)).filter((r) => r.state === "pending" && verificationCodesMatch(r.verificationCode, code));
      if (matches.length === 0) throw new PairingError("REQUEST_NOT_FOUND", `no pending pairing request has verification code ${code}`);
      if (matches.length > 1) {
        const shown = matches.sort((a, b) => a.createdAt - b.createdAt).slice(0, AMBIGUOUS_SHOWN);
        const more = matches.length > shown.length ? `, and ${matches.length - shown.length} more` : "";
        throw new PairingError(
          "AMBIGUOUS_VERIFICATION_CODE",
          `${matches.length} pending requests have verification code ${code}: ${shown.map((r) => `${r.id} (${r.name}, ${r.deviceId})`).join(", ")}${more}; ` +
            "nothing was approved. Approve the one whose device matches the node's by its id (tether pair approve ID --code CODE), and reject the others",
        );
      }
      return matches[0] as RequestRecord;
    };
  }

  /** Find the request a decision is about, under the mutex, then decide it (one step). */
  async #decide(
    pick: FindRequest,
    fn: (r: RequestRecord, now: number) => Promise<{ request: RequestRecord; device?: DeviceRecord; ops?: PairingOp[]; audit: AuditRecord[] }>,
  ): Promise<RequestView> {
    const { repo, clock } = this.#ctx;
    let published = () => {};
    let id = "";
    const r = await this.#ctx.mutex.run(async () => {
      const now = clock.now();
      const current = await pick(now);
      id = current.id;
      const { request, device, ops = [], audit } = await fn(current, now);
      // Held from before the write becomes readable until the decision is published.
      this.#publishing.set(id, new Promise<void>((resolve) => (published = resolve)));
      try {
        await repo.batch(
          [
            { table: "requests", type: "put", value: request },
            { table: "pendingRequests", type: "del", key: request.id },
            ...(device ? [{ table: "devices" as const, type: "put" as const, value: device }] : []),
            ...ops,
          ],
          { audit },
        );
      } catch (err) {
        this.#publishing.delete(id);
        published();
        throw err;
      }
      return { request, device };
    });
    try {
      // The device index first: the node may connect the moment it learns the decision.
      if (r.device) await this.#devices.changed(r.device);
      this.#events.emit(`decision:${id}`, r.request);
      this.#outcome(r.request);
    } finally {
      this.#publishing.delete(id);
      published();
    }
    return view(r.request);
  }

  /**
   * Approve a pending request: issue the node's certificate and record the device, with
   * `jobScope` as its job scope (replacing one an earlier pairing of the device had).
   * With `o.code` (the verification code the admin compared, `NNN-NNN` or 6 digits) the
   * request's own code must equal it, compared in constant time in the same step as the
   * approval (under the mutex), so the request cannot change in between. With `o.code` and no
   * `id`, the one pending request with that code is approved.
   * @throws PairingError REQUEST_NOT_FOUND (no such request; with a code alone, no pending
   *   request has it), REQUEST_NOT_PENDING, VERIFICATION_MISMATCH (the request's code is
   *   another), AMBIGUOUS_VERIFICATION_CODE (a code alone, held by more than one pending
   *   request), INVALID_ARGUMENT (role, code syntax, neither id nor code, or a job scope for a
   *   device that is not approved as an orchestrator). Nothing is written when it throws.
   */
  approve(id: string, role: string | undefined, jobScope: JobScope | undefined, o: { code?: string }): Promise<RequestView> {
    let granted: Role | undefined;
    let code: string | undefined;
    try {
      if (role) granted = checkRole(role);
      if (o.code !== undefined) code = parseVerificationCode(o.code, "code");
    } catch (cause) {
      return Promise.reject(asInvalid(cause));
    }
    if (!id && code === undefined) return Promise.reject(new PairingError("INVALID_ARGUMENT", "give a request id, a verification code, or both"));
    const pick = id ? this.pendingById(id, code) : this.#pendingByCode(code as string);
    return this.approveBy(pick, granted, "admin", undefined, jobScope);
  }

  /** Approve, by `by` ("admin" or "preauthorization"), with `extra` writes in the same batch. */
  approveBy(pick: FindRequest, granted: Role | undefined, by: string, extra?: (now: number) => PairingOp[], jobScope?: JobScope): Promise<RequestView> {
    return this.#decide(pick, async (r, now) => {
      await this.#devices.refuseRevoked(r.deviceId);
      const previous = await this.#ctx.repo.get("devices", r.deviceId);
      if (r.method === "return") return this.#approveReturn(r, previous, granted, by, now);
      // The admin's choice now, else the code's (chosen when it was minted), else what the node asked for.
      const finalRole = granted ?? r.codePolicy?.role ?? (r.requestedRole as Role);
      if (jobScope && finalRole !== "orchestrator") {
        throw new PairingError("INVALID_ARGUMENT", `a job scope is only for an orchestrator; this request would be approved as "${finalRole}"`);
      }
      // A grant is never inherited from an earlier pairing of the same device.
      const { jobScope: _earlier, ...kept } = previous ?? ({} as Partial<DeviceRecord>);
      const cert = await this.#ctx.ca.issueNodeCert({
        deviceId: r.deviceId,
        publicKeySpkiDer: new Uint8Array(Buffer.from(r.tlsPublicKey, "base64")),
        now,
      });
      const certificate = Buffer.from(cert.certDer).toString("base64");
      const request: RequestRecord = {
        ...r,
        state: "approved",
        role: finalRole,
        decidedAt: now,
        certificate,
        certificateFingerprint: cert.fingerprint,
      };
      const device: DeviceRecord = {
        ...kept,
        ...(r.codePolicy?.labels ? { labels: { ...(kept.labels ?? {}), ...r.codePolicy.labels } } : {}),
        ...(jobScope ? { jobScope } : {}),
        id: r.deviceId,
        name: r.name,
        role: finalRole,
        identityKey: r.identityKey,
        certificate,
        certificateFingerprint: cert.fingerprint,
        certificateSerial: cert.serialHex,
        certificateNotAfter: cert.notAfter,
        pairedAt: now,
        requestId: r.id,
      };
      const audit: AuditRecord[] = [
        {
          type: AuditEvent.RequestApproved,
          actor: by,
          subject: r.id,
          details: { device: r.deviceId, role: finalRole, ...(r.codePolicy?.labels ? { labels: JSON.stringify(r.codePolicy.labels) } : {}) },
        },
        { type: AuditEvent.CertificateIssued, actor: by, subject: r.deviceId, details: { certificate: cert.fingerprint, request: r.id } },
      ];
      if (jobScope || previous?.jobScope) audit.push(jobScopeAudit(by, device, previous?.jobScope));
      return { request, device, audit, ...(extra ? { ops: extra(now) } : {}) };
    });
  }

  /**
   * A return request approved (returns.ts): the device keeps what it had (role unless the admin
   * gives another, labels, job scope, when it paired) and gets a certificate for its new key.
   */
  async #approveReturn(r: RequestRecord, previous: DeviceRecord | undefined, granted: Role | undefined, by: string, now: number) {
    if (!previous) throw new PairingError("DEVICE_NOT_FOUND", `no device ${r.deviceId}`);
    const role = granted ?? (previous.role as Role);
    const cert = await this.#ctx.ca.issueNodeCert({ deviceId: r.deviceId, publicKeySpkiDer: new Uint8Array(Buffer.from(r.tlsPublicKey, "base64")), now });
    const certificate = Buffer.from(cert.certDer).toString("base64");
    const request: RequestRecord = { ...r, state: "approved", role, decidedAt: now, certificate, certificateFingerprint: cert.fingerprint };
    const { rotateRequested: _r, rotateRequestedAt: _s, ...kept } = previous;
    const device: DeviceRecord = {
      ...kept,
      role,
      certificate,
      certificateFingerprint: cert.fingerprint,
      certificateSerial: cert.serialHex,
      certificateNotAfter: cert.notAfter,
    };
    const audit: AuditRecord[] = [
      { type: AuditEvent.RequestApproved, actor: by, subject: r.id, details: { device: r.deviceId, role, method: "return" } },
      {
        type: AuditEvent.DeviceReturned,
        actor: by,
        subject: r.deviceId,
        details: { certificate: cert.fingerprint, previous: previous.certificateFingerprint, by, request: r.id, expiredForMs: now - previous.certificateNotAfter },
      },
    ];
    return { request, device, audit };
  }

  /** @throws PairingError REQUEST_NOT_FOUND, REQUEST_NOT_PENDING. */
  reject(id: string, reason?: string): Promise<RequestView> {
    return this.#decide(this.pendingById(id), async (r, now) => ({
      request: { ...r, state: "rejected", decidedAt: now, ...(reason ? { reason: reason.slice(0, 256) } : {}) },
      audit: [{ type: AuditEvent.RequestRejected, actor: "admin", subject: r.id, details: { device: r.deviceId, reason: reason?.slice(0, 256) ?? "" } }],
    }));
  }

  /**
   * The sweep's part (caller holds the mutex): the writes that persist the expiry of pending
   * requests past it, and those requests, to pass to `told` once the writes are durable.
   */
  async expired(now: number): Promise<{ ops: PairingOp[]; expired: RequestRecord[] }> {
    const expired: RequestRecord[] = [];
    const ops: PairingOp[] = [];
    for (const r of await this.#pendingRequests()) {
      if (r.state === "pending" && r.expiresAt <= now) {
        const e: RequestRecord = { ...r, state: "expired" };
        expired.push(e);
        ops.push({ table: "requests", type: "put", value: e }, { table: "pendingRequests", type: "del", key: r.id });
      }
    }
    return { ops, expired };
  }

  /** Tell the waiters and the outcome listeners of expiries the sweep wrote. */
  told(expired: RequestRecord[]): void {
    for (const e of expired) {
      this.#events.emit(`decision:${e.id}`, e);
      this.#outcome(e);
    }
  }

  /**
   * Prepare the store after a start: build the index of pending requests once, for a store
   * that predates it (afterwards every change keeps it up to date).
   */
  async load(): Promise<void> {
    const { repo, clock } = this.#ctx;
    await this.#ctx.mutex.run(async () => {
      if (await repo.get("pairingMeta", "pendingIndex")) return;
      const pending = (await repo.list("requests")).filter((r) => r.state === "pending");
      await repo.batch([
        ...pending.map((r) => ({ table: "pendingRequests" as const, type: "put" as const, value: { id: r.id } })),
        { table: "pairingMeta", type: "put", value: { id: "pendingIndex", at: clock.now() } },
      ]);
    });
  }

  /** The pending requests, through their index (a stale index entry is skipped). */
  async #pendingRequests(): Promise<RequestRecord[]> {
    const out: RequestRecord[] = [];
    for (const { id } of await this.#ctx.repo.list("pendingRequests")) {
      const r = await this.#ctx.repo.get("requests", id);
      if (r?.state === "pending") out.push(r);
    }
    return out;
  }
}

function withExpiry(r: RequestRecord, now: number): RequestRecord {
  return r.state === "pending" && r.expiresAt <= now ? { ...r, state: "expired" } : r;
}

/** Fingerprint of an identity key as admins see it: SHA-256 of the 32 key bytes, hex. */
export function keyFingerprint(identityKeyHex: string): string {
  return sha256Hex(fromHex(identityKeyHex));
}

function view(r: RequestRecord): RequestView {
  return { ...r, keyFingerprint: keyFingerprint(r.identityKey) };
}

/** Pairing request ids as the manager issues them: `req_` and 24 lowercase hex digits. */
const REQUEST_ID_PATTERN = /^req_[0-9a-f]{24}$/;

function checkRequestId(id: unknown): void {
  checkId(id, REQUEST_ID_PATTERN, "requestId", "req_ and 24 lowercase hex digits, as Finish answered");
}
