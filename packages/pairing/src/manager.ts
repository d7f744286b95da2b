/**
 * The pairing state machine: minting codes, the two handshake steps, signed waiting, and the
 * admin's decision. Storage, the CA, the clock and randomness are injected, so the logic can
 * be driven by tests without a daemon. Every state change runs under one mutex and is durably
 * written before the caller gets an answer.
 */
import { EventEmitter } from "node:events";
import {
  CryptoError,
  KeyProofPurpose,
  Secret,
  SID_BYTES,
  awaitSignedMessage,
  bytes,
  checkClaims,
  checkIdentityKey,
  checkName,
  checkRole,
  confirmationMatches,
  daemonComplete,
  daemonShare,
  daemonSignedMessage,
  derivePrs,
  deviceIdFromIdentityKey,
  fingerprintBytes,
  formatPairingUri,
  formatPin,
  fromHex,
  generatePinSecret,
  identityVerify,
  isValidSelector,
  keyProofMessage,
  nodeSignedMessage,
  p256Verify,
  parseVerificationCode,
  randomDigits,
  renewSignedMessage,
  sha256Hex,
  toHex,
  verificationCodesMatch,
  COMMITMENT_BYTES,
  PAIR_PROTOCOL_VERSION,
  QR_SECRET_BYTES,
  QR_SELECTOR_BYTES,
} from "@tether/crypto";
import type { NodeClaims, PairMethod, Role, Sealer, SessionKeys } from "@tether/crypto";
import type { PairingConfig } from "./config.js";
import { MIN_CODE_TTL_MS, PRESENCE_WRITE_INTERVAL_MS, resolvePairingConfig } from "./config.js";
import { PairingError } from "./errors.js";
import { AuditEvent, Mutex } from "@tether/base";
import type { AuditRecord } from "@tether/base";
import type { CodeRecord, DeviceRecord, JobScope, PairingOp, PairingRepository, PreauthorizationRecord, RequestRecord, RequestState } from "./records.js";
import { LABEL_RE, MAX_LABELS, formatJobScope } from "./scope.js";

/** What the manager needs from the certificate authority. */
export interface PairingAuthority {
  readonly caCertDer: Uint8Array;
  /** hex SHA-256 of the CA certificate's SubjectPublicKeyInfo */
  readonly caFingerprint: string;
  /** May change while running (signer rotation): read it at each use. */
  readonly signerCertDer: Uint8Array;
  /** Refuse a node TLS key the CA would not certify (throws an error with code BAD_PUBLIC_KEY). */
  checkNodePublicKey(spkiDer: Uint8Array): void;
  /** ECDSA P-256 / SHA-256 signature by the pairing-signer key, DER encoded. */
  signTranscript(message: Uint8Array): Uint8Array;
  /** Optional: a serverAuth certificate for device-to-device serving. */
  issuePeerServerCert?(o: { deviceId: string; publicKeySpkiDer: Uint8Array; now: number }): Promise<{
    certDer: Uint8Array;
    fingerprint: string;
    serialHex: string;
    notAfter: number;
  }>;
  issueNodeCert(o: { deviceId: string; publicKeySpkiDer: Uint8Array; now: number }): Promise<{
    certDer: Uint8Array;
    fingerprint: string;
    serialHex: string;
    notAfter: number;
  }>;
}

export type Clock = { now(): number };
export type RandomBytes = (n: number) => Uint8Array;

export type StartInput = {
  version: number;
  method: string;
  selector: string;
  sid: unknown;
  commitment: unknown;
  identityKey: unknown;
  tlsPublicKey: unknown;
  name: unknown;
  role: unknown;
};

export type StartOutput = {
  sessionId: string;
  yb: Uint8Array;
  caCertificate: Uint8Array;
  signerCertificate: Uint8Array;
  sessionExpiresAt: number;
};

export type RevealOutput = { daemonConfirmation: Uint8Array; daemonSignature: Uint8Array };

type Session = {
  id: string;
  codeId: string;
  method: PairMethod;
  selector: string;
  sid: Uint8Array;
  commitment: Uint8Array;
  yb: Uint8Array;
  /** the daemon's CPace scalar, wiped once Reveal has used it */
  scalar: Uint8Array;
  claims: NodeClaims;
  keys?: SessionKeys; // set by Reveal
  expiresAt: number;
};

export type MintedCode = { record: CodeRecord; code: Secret<string> };

/**
 * A Renew or IssuePeerCertificate request, for the device its caller authenticated as:
 * signed by the identity key, and by the requested TLS key (`keyProof`, docs/fleet.md §5A.1).
 */
export type KeyRequest = { deviceId: string; tlsPublicKey: unknown; timestamp: number; signature: unknown; keyProof: unknown };

/** Told of each written device change; the change is published once the promise settles. */
export type DeviceListener = (d: DeviceRecord) => void | Promise<void>;

/** Finds the pending request a decision is about (run under the mutex); throws if there is none. */
type FindRequest = (now: number) => Promise<RequestRecord>;

/** An ambiguous verification code's refusal names at most this many of the requests that have it. */
const AMBIGUOUS_SHOWN = 5;

/** The admin's view of a request, with the derived fields the CLI shows. */
export type RequestView = RequestRecord & { keyFingerprint: string };

export class PairingManager {
  readonly #repo: PairingRepository;
  readonly #ca: PairingAuthority;
  readonly #clock: Clock;
  readonly #random: RandomBytes;
  readonly #config: PairingConfig;
  readonly #advertise: () => string;
  readonly #sealer: Sealer;
  readonly #mutex = new Mutex();
  readonly #sessions = new Map<string, Session>();
  /**
   * Every code record, as stored: a few hundred at most (live codes are capped, the sweep
   * deletes expired ones), read at each Start and mint; loaded once, kept in step with each
   * write (all under the mutex).
   */
  #codes: Map<string, CodeRecord> | undefined;
  #codesLoading: Promise<Map<string, CodeRecord>> | undefined;
  readonly #events = new EventEmitter();
  readonly #deviceListeners = new Set<DeviceListener>();
  /**
   * Decisions written but not yet published (their device listeners have not all settled):
   * a reader of such a request waits, so nobody is sent a certificate the index lacks.
   */
  readonly #publishing = new Map<string, Promise<void>>();

  constructor(o: {
    repo: PairingRepository;
    ca: PairingAuthority;
    clock: Clock;
    randomBytes: RandomBytes;
    advertise: () => string;
    /** keeps each code's PRS encrypted at rest (the key lives outside the store) */
    sealer: Sealer;
    config?: Partial<PairingConfig>;
  }) {
    this.#sealer = o.sealer;
    this.#repo = o.repo;
    this.#ca = o.ca;
    this.#clock = o.clock;
    this.#random = o.randomBytes;
    this.#advertise = o.advertise;
    this.#config = resolvePairingConfig(o.config);
    this.#events.setMaxListeners(0);
  }

  /** The injected clock's time, for adapters that schedule around it. */
  now(): number {
    return this.#clock.now();
  }

  get config(): PairingConfig {
    return this.#config;
  }

  /** `prefix` and 24 hex digits: the form checkSessionId and checkRequestId hold echoed ids to. */
  #id(prefix: string): string {
    return prefix + toHex(this.#random(12));
  }

  /**
   * Mint a single-use pairing code. Only its stretched password is stored.
   * @throws PairingError INVALID_ARGUMENT for a bad method or TTL; TOO_MANY_CODES.
   */
  async mintCode(method: string, ttlMs?: number): Promise<MintedCode> {
    if (method !== "pin" && method !== "qr") throw new PairingError("INVALID_ARGUMENT", 'method must be "pin" or "qr"');
    const ttl = ttlMs === undefined || ttlMs === 0 ? this.#config.defaultCodeTtlMs : ttlMs;
    if (!Number.isInteger(ttl) || ttl < MIN_CODE_TTL_MS || ttl > this.#config.maxCodeTtlMs) {
      throw new PairingError("INVALID_ARGUMENT", `ttl must be between ${MIN_CODE_TTL_MS / 1000} and ${this.#config.maxCodeTtlMs / 1000} seconds`);
    }
    return this.#mutex.run(async () => {
      const now = this.#clock.now();
      const live = [...(await this.#allCodes()).values()].filter((c) => c.state === "active" && c.expiresAt > now);
      if (live.length >= this.#config.maxActiveCodes) {
        throw new PairingError("TOO_MANY_CODES", `at most ${this.#config.maxActiveCodes} codes can be active at once`);
      }
      const expiresAt = now + ttl;
      let selector: string;
      let secret: Uint8Array | string;
      let code: string;
      if (method === "pin") {
        const taken = new Set(live.filter((c) => c.method === "pin").map((c) => c.selector));
        do selector = randomDigits(3, this.#random);
        while (taken.has(selector));
        secret = generatePinSecret(this.#random);
        code = formatPin(selector, secret);
      } else {
        selector = toHex(this.#random(QR_SELECTOR_BYTES));
        secret = this.#random(QR_SECRET_BYTES);
        code = formatPairingUri({
          address: this.#advertise(),
          selector,
          secret,
          caFingerprint: this.#ca.caFingerprint,
          expiresAt,
        });
      }
      const id = this.#id("code_");
      const record: CodeRecord = {
        id,
        method,
        selector,
        prsSealed: toHex(this.#sealer.seal(derivePrs(method, selector, secret), id)),
        createdAt: now,
        expiresAt,
        attempts: 0,
        state: "active",
      };
      await this.#repo.batch([{ table: "codes", type: "put", value: record }], {
        audit: [{ type: AuditEvent.CodeMinted, actor: "admin", subject: record.id, details: { method, selector, expiresAt } }],
      });
      this.#codes?.set(record.id, record);
      return { record, code: new Secret(code, "PairingCode") };
    });
  }

  async #refuseRevoked(deviceId: string): Promise<void> {
    const d = await this.#repo.get("devices", deviceId);
    if (d?.revokedAt) {
      throw new PairingError("DEVICE_REVOKED", `device ${deviceId} is revoked; before it can pair again, an admin must run \`tether devices unrevoke ${deviceId}\``);
    }
  }

  async #findCode(method: PairMethod, selector: string): Promise<CodeRecord> {
    const matches = [...(await this.#allCodes()).values()].filter((c) => c.method === method && c.selector === selector).sort((a, b) => b.createdAt - a.createdAt);
    const code = matches[0];
    if (!code) throw new PairingError("CODE_NOT_FOUND", "no pairing code with that selector");
    return code;
  }

  #checkUsable(code: CodeRecord, now: number): void {
    if (code.state === "used") throw new PairingError("CODE_USED", "pairing code has already been used");
    if (code.state === "burned" || code.attempts >= this.#config.maxCodeAttempts) {
      throw new PairingError("CODE_BURNED", "pairing code was burned after too many failed attempts; mint a new one");
    }
    if (code.expiresAt <= now) throw new PairingError("CODE_EXPIRED", "pairing code has expired");
  }

  /**
   * Handshake step 1 (node -> daemon). Counts one attempt against the code, durably, before
   * answering.
   * @throws PairingError for a malformed field or an unusable code.
   */
  async start(req: StartInput): Promise<StartOutput> {
    if (!req.version) throw new PairingError("INVALID_ARGUMENT", '"version" is required');
    if (req.version !== PAIR_PROTOCOL_VERSION) {
      const hint = req.version < PAIR_PROTOCOL_VERSION ? ": update the node's tether" : ": this daemon is older than the node; update it";
      throw new PairingError("UNSUPPORTED_VERSION", `protocol version ${req.version} is not supported (expected ${PAIR_PROTOCOL_VERSION})${hint}`);
    }
    let claims: NodeClaims;
    let sid: Uint8Array;
    let commitment: Uint8Array;
    let method: PairMethod;
    try {
      if (req.method !== "pin" && req.method !== "qr") throw new CryptoError("BAD_METHOD", '"method" must be "pin" or "qr"');
      method = req.method;
      if (!isValidSelector(method, req.selector)) throw new CryptoError("BAD_SELECTOR", `"selector" is not a valid ${method} selector`);
      sid = bytes(req.sid, SID_BYTES, "sid");
      commitment = bytes(req.commitment, COMMITMENT_BYTES, "commitment");
      claims = checkClaims(req);
      this.#ca.checkNodePublicKey(claims.tlsPublicKey);
    } catch (cause) {
      throw asInvalid(cause);
    }
    return this.#mutex.run(async () => {
      const now = this.#clock.now();
      this.#sweepSessions(now);
      if (this.#sessions.size >= this.#config.maxSessions) {
        throw new PairingError("TOO_MANY_SESSIONS", "too many handshakes in progress; try again shortly");
      }
      const code = await this.#findCode(method, req.selector);
      this.#checkUsable(code, now);
      await this.#refuseRevoked(deviceIdFromIdentityKey(claims.identityKey));
      const scalar = this.#random(32);
      if (!code.prsSealed) throw new PairingError("CODE_EXPIRED", "pairing code was minted for an older protocol; mint a new one");
      const yb = daemonShare(this.#sealer.open(fromHex(code.prsSealed), code.id), method, code.selector, sid, scalar);
      // The attempt is on disk before the node can learn anything from our answer.
      await this.#putCode({ ...code, attempts: code.attempts + 1 });
      const session: Session = {
        id: this.#id("hs_"),
        codeId: code.id,
        method,
        selector: code.selector,
        sid,
        commitment,
        yb,
        scalar,
        claims,
        expiresAt: Math.min(now + this.#config.sessionTtlMs, code.expiresAt),
      };
      this.#sessions.set(session.id, session);
      return {
        sessionId: session.id,
        yb,
        caCertificate: this.#ca.caCertDer,
        signerCertificate: this.#ca.signerCertDer,
        sessionExpiresAt: session.expiresAt,
      };
    });
  }

  /**
   * Handshake step 2 (node -> daemon): the node reveals its share; the daemon checks it
   * against the commitment, derives the keys and proves it knows the code. One Reveal a session.
   * @throws PairingError INVALID_ARGUMENT (a session id not of the form the daemon issues,
   *   before any lookup; or a bad share or commitment mismatch, and the session is then
   *   dropped), SESSION_NOT_FOUND, SESSION_EXPIRED.
   */
  async reveal(req: { sessionId: string; ya: unknown }): Promise<RevealOutput> {
    checkSessionId(req.sessionId);
    return this.#mutex.run(async () => {
      const now = this.#clock.now();
      const session = this.#sessions.get(req.sessionId);
      if (!session || session.keys) {
        throw new PairingError("SESSION_NOT_FOUND", "unknown handshake session (it may have been used or expired)");
      }
      if (session.expiresAt <= now) {
        this.#dropSession(session);
        throw new PairingError("SESSION_EXPIRED", "handshake session expired; start again");
      }
      const code = (await this.#allCodes()).get(session.codeId);
      try {
        session.keys = daemonComplete(
          {
            method: session.method,
            selector: session.selector,
            sid: session.sid,
            ya: req.ya as Uint8Array,
            yb: session.yb,
            claims: session.claims,
            caCertDer: this.#ca.caCertDer,
            caFingerprint: fingerprintBytes(this.#ca.caFingerprint),
            signerCertDer: this.#ca.signerCertDer,
          },
          session.commitment,
          session.scalar,
        );
      } catch (cause) {
        this.#dropSession(session);
        throw asInvalid(cause);
      } finally {
        session.scalar.fill(0);
      }
      if (!code) {
        this.#dropSession(session);
        throw new PairingError("CODE_EXPIRED", "pairing code has expired");
      }
      return {
        daemonConfirmation: session.keys.daemonConfirmation,
        daemonSignature: this.#ca.signTranscript(daemonSignedMessage(session.keys.th)),
      };
    });
  }

  #dropSession(s: Session): void {
    s.scalar.fill(0);
    this.#sessions.delete(s.id);
  }

  #sweepSessions(now: number): void {
    for (const s of this.#sessions.values()) if (s.expiresAt <= now) this.#dropSession(s);
  }

  /**
   * Handshake step 2 (node -> daemon): check the node's key confirmation and signature, use
   * up the code and store a pending request. Exactly one of several racing nodes wins a code.
   * @throws PairingError INVALID_ARGUMENT (a malformed session id, before any lookup),
   *   SESSION_NOT_FOUND, WRONG_CODE, BAD_SIGNATURE, CODE_USED, ...
   */
  async finish(req: { sessionId: string; nodeConfirmation: unknown; nodeSignature: unknown }): Promise<RequestRecord> {
    checkSessionId(req.sessionId);
    const created = await this.#finishHandshake(req);
    // Factory-provisioned keys are approved at once; the code was still required above.
    const pre = await this.#repo.get("preauthorizations", created.deviceId);
    if (pre && !pre.usedAt && pre.expiresAt > this.#clock.now() && pre.identityKey === created.identityKey) {
      // The approval and the preauthorization's use are one write: it cannot be used twice.
      const approved = await this.#approve(this.#pendingById(created.id), pre.role as Role, "preauthorization", (now) => [
        { table: "preauthorizations", type: "put", value: { ...pre, usedAt: now, requestId: created.id } },
      ]);
      return { ...created, state: "approved", role: approved.role ?? pre.role };
    }
    return created;
  }

  async #finishHandshake(req: { sessionId: string; nodeConfirmation: unknown; nodeSignature: unknown }): Promise<RequestRecord> {
    return this.#mutex.run(async () => {
      const now = this.#clock.now();
      const found = this.#sessions.get(req.sessionId);
      // One-shot: whatever happens next, this session cannot be finished again.
      if (found) this.#dropSession(found);
      if (!found?.keys) throw new PairingError("SESSION_NOT_FOUND", "unknown handshake session (it may have been used or expired, or Reveal was skipped)");
      const session = found as Session & { keys: SessionKeys };
      if (session.expiresAt <= now) throw new PairingError("SESSION_EXPIRED", "handshake session expired; start again");
      const code = (await this.#allCodes()).get(session.codeId);
      if (!code) throw new PairingError("CODE_EXPIRED", "pairing code has expired");
      const conf = req.nodeConfirmation instanceof Uint8Array ? req.nodeConfirmation : new Uint8Array();
      if (!confirmationMatches(session.keys.nodeConfirmation, conf)) {
        if (code.state === "active" && code.attempts >= this.#config.maxCodeAttempts) {
          await this.#putCode({ ...code, state: "burned" });
        }
        throw new PairingError("WRONG_CODE", "key confirmation failed: the pairing code does not match");
      }
      const sig = req.nodeSignature instanceof Uint8Array ? req.nodeSignature : new Uint8Array();
      if (!identityVerify(session.claims.identityKey, nodeSignedMessage(session.keys.th), sig)) {
        throw new PairingError("BAD_SIGNATURE", "node signature does not verify over the handshake transcript");
      }
      if (code.state === "used") throw new PairingError("CODE_USED", "pairing code has already been used");
      if (code.state === "burned") throw new PairingError("CODE_BURNED", "pairing code was burned after too many failed attempts");
      if (code.expiresAt <= now) throw new PairingError("CODE_EXPIRED", "pairing code has expired");
      const request: RequestRecord = {
        id: this.#id("req_"),
        state: "pending",
        deviceId: deviceIdFromIdentityKey(session.claims.identityKey),
        name: session.claims.name,
        requestedRole: session.claims.role,
        identityKey: toHex(session.claims.identityKey),
        tlsPublicKey: Buffer.from(session.claims.tlsPublicKey).toString("base64"),
        verificationCode: session.keys.verificationCode,
        method: session.method,
        codeId: code.id,
        createdAt: now,
        expiresAt: now + this.#config.requestTtlMs,
      };
      await this.#repo.batch(
        [
          { table: "codes", type: "put", value: { ...code, state: "used", requestId: request.id } },
          { table: "requests", type: "put", value: request },
          { table: "pendingRequests", type: "put", value: { id: request.id } },
        ],
        {
          audit: [
            {
              type: AuditEvent.RequestCreated,
              actor: request.deviceId,
              subject: request.id,
              details: { name: request.name, role: request.requestedRole, method: request.method, code: code.id },
            },
          ],
        },
      );
      this.#codes?.set(code.id, { ...code, state: "used", requestId: request.id });
      return request;
    });
  }

  /** All code records, from the cache (loaded on first use). Caller holds the mutex or only reads. */
  #allCodes(): Promise<Map<string, CodeRecord>> {
    // one load, shared by concurrent first callers (a second load could drop a newer write)
    this.#codesLoading ??= this.#repo.list("codes").then((list) => (this.#codes = new Map(list.map((c) => [c.id, c]))));
    return this.#codesLoading;
  }

  async #putCode(c: CodeRecord): Promise<void> {
    await this.#repo.batch([{ table: "codes", type: "put", value: c }]);
    this.#codes?.set(c.id, c);
  }

  /**
   * Check a node's signed Await and return its request (with expiry applied).
   * @throws PairingError INVALID_ARGUMENT (a malformed request id, before any lookup),
   *   REQUEST_NOT_FOUND, STALE_TIMESTAMP, BAD_SIGNATURE.
   */
  async authorizeAwait(req: { requestId: string; timestamp: number; signature: unknown }): Promise<RequestRecord> {
    checkRequestId(req.requestId);
    const now = this.#clock.now();
    const found = await this.#repo.get("requests", req.requestId);
    // Same answer for "no such request" and "bad signature" would hide existence, but ids are
    // random and unguessable; a precise error helps the operator more.
    if (!found) throw new PairingError("REQUEST_NOT_FOUND", "no pairing request with that id");
    await this.#publishing.get(req.requestId);
    this.#freshTimestamp(req.timestamp, now);
    const sig = req.signature instanceof Uint8Array ? req.signature : new Uint8Array();
    if (!identityVerify(fromHex(found.identityKey), awaitSignedMessage(req.requestId, req.timestamp), sig)) {
      throw new PairingError("BAD_SIGNATURE", "signature does not verify with the request's identity key");
    }
    return this.#withExpiry(found, now);
  }

  /** A signed timestamp must be within the window of the daemon's clock; the error says by how much it is off. */
  #freshTimestamp(timestamp: number, now: number): void {
    if (Number.isFinite(timestamp) && Math.abs(now - timestamp) <= this.#config.timestampWindowMs) return;
    const off = Number.isFinite(timestamp) ? `${Math.round(Math.abs(timestamp - now) / 1000)} s ${timestamp > now ? "ahead of" : "behind"}` : "not a time, compared with";
    throw new PairingError(
      "STALE_TIMESTAMP",
      `signed timestamp is ${off} the daemon's clock (allowed: ${this.#config.timestampWindowMs / 60_000} minutes either way); check both clocks (NTP)`,
    );
  }

  #withExpiry(r: RequestRecord, now: number): RequestRecord {
    return r.state === "pending" && r.expiresAt <= now ? { ...r, state: "expired" } : r;
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
    const r = await this.#repo.get("requests", id);
    if (!r) throw new PairingError("REQUEST_NOT_FOUND", `no pairing request ${id}`);
    await this.#publishing.get(id);
    return view(this.#withExpiry(r, this.#clock.now()));
  }

  async listRequests(state?: string): Promise<RequestView[]> {
    if (state && !["pending", "approved", "rejected", "expired"].includes(state)) {
      throw new PairingError("INVALID_ARGUMENT", "state must be pending, approved, rejected or expired");
    }
    const now = this.#clock.now();
    const records = state === "pending" ? await this.#pendingRequests() : await this.#repo.list("requests");
    return records
      .map((r) => this.#withExpiry(r, now))
      .filter((r) => !state || r.state === state)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map(view);
  }

  /** The request `id` if it is pending (and, with `code`, has that verification code). Caller holds the mutex. */
  #pendingById(id: string, code?: string): FindRequest {
    return async (now) => {
      const found = await this.#repo.get("requests", id);
      if (!found) throw new PairingError("REQUEST_NOT_FOUND", `no pairing request ${id}`);
      const current = this.#withExpiry(found, now);
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
      const matches = (await this.#pendingRequests()).map((r) => this.#withExpiry(r, now)).filter((r) => r.state === "pending" && verificationCodesMatch(r.verificationCode, code));
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
    let published = () => {};
    let id = "";
    const r = await this.#mutex.run(async () => {
      const now = this.#clock.now();
      const current = await pick(now);
      id = current.id;
      const { request, device, ops = [], audit } = await fn(current, now);
      // Held from before the write becomes readable until the decision is published.
      this.#publishing.set(id, new Promise<void>((resolve) => (published = resolve)));
      try {
        await this.#repo.batch(
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
      if (r.device) await this.#deviceChanged(r.device);
      this.#events.emit(`decision:${id}`, r.request);
      this.#outcome(r.request);
    } finally {
      this.#publishing.delete(id);
      published();
    }
    return view(r.request);
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
  async #deviceChanged(d: DeviceRecord): Promise<void> {
    await Promise.allSettled([...this.#deviceListeners].map(async (listener) => listener(d)));
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
    const r = await this.#mutex.run(async () => {
      const cur = await this.#repo.get("devices", id);
      if (!cur) throw new PairingError("DEVICE_NOT_FOUND", `no device ${id}`);
      const next = fn(cur);
      if (!next) return { device: cur, changed: false };
      await this.#repo.batch([{ table: "devices", type: "put", value: next }], {
        ...(o.audit ? { audit: o.audit(next, cur) } : {}),
        ...(o.sync === false ? { sync: false } : {}),
      });
      return { device: next, changed: true };
    });
    if (r.changed) await this.#deviceChanged(r.device);
    return r.device;
  }

  /**
   * Revoke a device: durable before this resolves. Listeners end its streams.
   * Revoking a revoked device again is allowed and keeps the first time.
   * @throws PairingError DEVICE_NOT_FOUND
   */
  revokeDevice(id: string, reason?: string, by = "admin"): Promise<DeviceRecord> {
    return this.#updateDevice(
      id,
      (d) => {
        const at = d.revokedAt ?? this.#clock.now();
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
  clearRevocation(id: string, by = "admin"): Promise<DeviceRecord> {
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
      this.#ca.checkNodePublicKey(spki);
      return spki;
    } catch (cause) {
      throw asInvalid(cause);
    }
  }

  /** The input checks of a key request: a P-256 key the CA would certify, and a key proof. */
  #checkedKeyRequest(req: KeyRequest): { spki: Uint8Array; proof: Uint8Array } {
    const spki = this.#checkedTlsKey(req.tlsPublicKey);
    const proof = req.keyProof instanceof Uint8Array ? req.keyProof : new Uint8Array();
    if (proof.length === 0) {
      throw new PairingError("INVALID_ARGUMENT", '"keyProof" is required: a signature by the requested TLS key (update the node\'s tether)');
    }
    return { spki, proof };
  }

  /**
   * The checks shared by renewal and peer certificates (caller holds the mutex): the device
   * exists and is not revoked, the timestamp is fresh, the identity key signed the request,
   * and the requested key signed it too (so nobody gets a certificate for a key they lack).
   */
  async #signedKeyRequest(req: KeyRequest, purpose: KeyProofPurpose, k: { spki: Uint8Array; proof: Uint8Array }, now: number): Promise<DeviceRecord> {
    const cur = await this.#repo.get("devices", req.deviceId);
    if (!cur) throw new PairingError("DEVICE_NOT_FOUND", `no device ${req.deviceId}`);
    if (cur.revokedAt) throw new PairingError("DEVICE_REVOKED", `device ${req.deviceId} is revoked`);
    this.#freshTimestamp(req.timestamp, now);
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
   * certificate). Runs under the same mutex as revocation, so a revoke that lands first wins
   * and no certificate is issued after it.
   * @throws PairingError DEVICE_NOT_FOUND, DEVICE_REVOKED, BAD_SIGNATURE (identity signature
   *   or key proof), STALE_TIMESTAMP, INVALID_ARGUMENT (key, missing key proof).
   */
  async renew(req: KeyRequest): Promise<DeviceRecord> {
    const k = this.#checkedKeyRequest(req);
    const d = await this.#mutex.run(async () => {
      const now = this.#clock.now();
      const cur = await this.#signedKeyRequest(req, KeyProofPurpose.Renew, k, now);
      const cert = await this.#ca.issueNodeCert({ deviceId: cur.id, publicKeySpkiDer: k.spki, now });
      const { rotateRequested: _done, rotateRequestedAt: _since, ...rest } = cur;
      const next: DeviceRecord = {
        ...rest,
        certificate: Buffer.from(cert.certDer).toString("base64"),
        certificateFingerprint: cert.fingerprint,
        certificateSerial: cert.serialHex,
        certificateNotAfter: cert.notAfter,
      };
      await this.#repo.batch([{ table: "devices", type: "put", value: next }], {
        audit: [{ type: AuditEvent.CertificateRenewed, actor: cur.id, subject: cur.id, details: { certificate: cert.fingerprint, previous: cur.certificateFingerprint } }],
      });
      return next;
    });
    await this.#deviceChanged(d);
    return d;
  }

  /**
   * Set and remove labels on a device.
   * @throws PairingError DEVICE_NOT_FOUND, INVALID_ARGUMENT (label syntax).
   */
  setLabels(id: string, set: Record<string, string>, remove: string[] = []): Promise<DeviceRecord> {
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
  setJobScope(id: string, scope: JobScope | undefined, by = "admin"): Promise<DeviceRecord> {
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
        return { ...rest, rotateRequested: true, rotateRequestedAt: d.rotateRequested && since ? since : this.#clock.now() };
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
    const k = this.#checkedKeyRequest(req);
    const { cert, device } = await this.#mutex.run(async () => {
      const now = this.#clock.now();
      const cur = await this.#signedKeyRequest(req, KeyProofPurpose.PeerCertificate, k, now);
      if (!this.#ca.issuePeerServerCert) throw new PairingError("INVALID_ARGUMENT", "this authority does not issue peer certificates");
      const cert = await this.#ca.issuePeerServerCert({ deviceId: cur.id, publicKeySpkiDer: k.spki, now });
      const device: DeviceRecord = { ...cur, peerCertificateSerials: [...(cur.peerCertificateSerials ?? []).slice(-9), cert.serialHex] };
      await this.#repo.batch([{ table: "devices", type: "put", value: device }], {
        audit: [{ type: AuditEvent.CertificateIssued, actor: cur.id, subject: cur.id, details: { certificate: cert.fingerprint, purpose: "peer-server" } }],
      });
      return { cert, device };
    });
    await this.#deviceChanged(device);
    return cert;
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
    const now = this.#clock.now();
    const expiresAt = o.expiresAt || now + 365 * 24 * 60 * 60_000;
    if (expiresAt <= now) throw new PairingError("INVALID_ARGUMENT", "the preauthorization would already be expired");
    const id = deviceIdFromIdentityKey(key);
    await this.#refuseRevoked(id);
    const rec: PreauthorizationRecord = { id, identityKey: toHex(key), role, createdAt: now, expiresAt, ...(o.name ? { name: o.name } : {}) };
    await this.#repo.batch([{ table: "preauthorizations", type: "put", value: rec }], {
      audit: [{ type: AuditEvent.Preauthorized, actor: "admin", subject: id, details: { role, expiresAt } }],
    });
    return rec;
  }

  async listPreauthorizations(): Promise<PreauthorizationRecord[]> {
    return (await this.#repo.list("preauthorizations")).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** @throws PairingError DEVICE_NOT_FOUND when there is no such preauthorization. */
  async revokePreauthorization(id: string): Promise<void> {
    const p = await this.#repo.get("preauthorizations", id);
    if (!p) throw new PairingError("DEVICE_NOT_FOUND", `no preauthorization for ${id}`);
    await this.#repo.batch([{ table: "preauthorizations", type: "del", key: id }], {
      audit: [{ type: AuditEvent.PreauthorizationRevoked, actor: "admin", subject: id }],
    });
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
  approve(id: string, role?: string, jobScope?: JobScope, o: { code?: string } = {}): Promise<RequestView> {
    let granted: Role | undefined;
    let code: string | undefined;
    try {
      if (role) granted = checkRole(role);
      if (o.code !== undefined) code = parseVerificationCode(o.code, "code");
    } catch (cause) {
      return Promise.reject(asInvalid(cause));
    }
    if (!id && code === undefined) return Promise.reject(new PairingError("INVALID_ARGUMENT", "give a request id, a verification code, or both"));
    const pick = id ? this.#pendingById(id, code) : this.#pendingByCode(code as string);
    return this.#approve(pick, granted, "admin", undefined, jobScope);
  }

  /** Approve, by `by` ("admin" or "preauthorization"), with `extra` writes in the same batch. */
  #approve(pick: FindRequest, granted: Role | undefined, by: string, extra?: (now: number) => PairingOp[], jobScope?: JobScope): Promise<RequestView> {
    return this.#decide(pick, async (r, now) => {
      await this.#refuseRevoked(r.deviceId);
      const previous = await this.#repo.get("devices", r.deviceId);
      const finalRole = granted ?? (r.requestedRole as Role);
      if (jobScope && finalRole !== "orchestrator") {
        throw new PairingError("INVALID_ARGUMENT", `a job scope is only for an orchestrator; this request would be approved as "${finalRole}"`);
      }
      // A grant is never inherited from an earlier pairing of the same device.
      const { jobScope: _earlier, ...kept } = previous ?? ({} as Partial<DeviceRecord>);
      const cert = await this.#ca.issueNodeCert({
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
        { type: AuditEvent.RequestApproved, actor: by, subject: r.id, details: { device: r.deviceId, role: finalRole } },
        { type: AuditEvent.CertificateIssued, actor: by, subject: r.deviceId, details: { certificate: cert.fingerprint, request: r.id } },
      ];
      if (jobScope || previous?.jobScope) audit.push(jobScopeAudit(by, device, previous?.jobScope));
      return { request, device, audit, ...(extra ? { ops: extra(now) } : {}) };
    });
  }

  /** @throws PairingError REQUEST_NOT_FOUND, REQUEST_NOT_PENDING. */
  reject(id: string, reason?: string): Promise<RequestView> {
    return this.#decide(this.#pendingById(id), async (r, now) => ({
      request: { ...r, state: "rejected", decidedAt: now, ...(reason ? { reason: reason.slice(0, 256) } : {}) },
      audit: [{ type: AuditEvent.RequestRejected, actor: "admin", subject: r.id, details: { device: r.deviceId, reason: reason?.slice(0, 256) ?? "" } }],
    }));
  }

  async listDevices(): Promise<DeviceRecord[]> {
    return (await this.#repo.list("devices")).sort((a, b) => a.pairedAt - b.pairedAt);
  }

  async getDevice(id: string): Promise<DeviceRecord> {
    const d = await this.#repo.get("devices", id);
    if (!d) throw new PairingError("DEVICE_NOT_FOUND", `no device ${id}`);
    return d;
  }

  /**
   * Housekeeping: persist the expiry of pending requests (and tell their waiters), delete
   * codes past their expiry, and drop stale handshake sessions. Returns how many records changed.
   */
  async sweep(): Promise<number> {
    const expired: RequestRecord[] = [];
    const n = await this.#mutex.run(async () => {
      const now = this.#clock.now();
      this.#sweepSessions(now);
      const ops: PairingOp[] = [];
      for (const r of await this.#pendingRequests()) {
        if (r.state === "pending" && r.expiresAt <= now) {
          const e: RequestRecord = { ...r, state: "expired" };
          expired.push(e);
          ops.push({ table: "requests", type: "put", value: e }, { table: "pendingRequests", type: "del", key: r.id });
        }
      }
      const gone: string[] = [];
      for (const c of (await this.#allCodes()).values()) {
        if (c.expiresAt <= now) {
          ops.push({ table: "codes", type: "del", key: c.id });
          gone.push(c.id);
        }
      }
      if (ops.length) await this.#repo.batch(ops);
      for (const id of gone) this.#codes?.delete(id);
      return ops.length;
    });
    for (const e of expired) {
      this.#events.emit(`decision:${e.id}`, e);
      this.#outcome(e);
    }
    return n;
  }

  /**
   * Prepare the store after a start: build the index of pending requests once, for a store
   * that predates it (afterwards every change keeps it up to date).
   */
  async load(): Promise<void> {
    await this.#mutex.run(async () => {
      if (await this.#repo.get("pairingMeta", "pendingIndex")) return;
      const pending = (await this.#repo.list("requests")).filter((r) => r.state === "pending");
      await this.#repo.batch([
        ...pending.map((r) => ({ table: "pendingRequests" as const, type: "put" as const, value: { id: r.id } })),
        { table: "pairingMeta", type: "put", value: { id: "pendingIndex", at: this.#clock.now() } },
      ]);
    });
  }

  /** The pending requests, through their index (a stale index entry is skipped). */
  async #pendingRequests(): Promise<RequestRecord[]> {
    const out: RequestRecord[] = [];
    for (const { id } of await this.#repo.list("pendingRequests")) {
      const r = await this.#repo.get("requests", id);
      if (r?.state === "pending") out.push(r);
    }
    return out;
  }

  /** Active (unexpired, unused) codes, for the admin's view. The code values are never kept. */
  async listCodes(): Promise<CodeRecord[]> {
    const now = this.#clock.now();
    return [...(await this.#allCodes()).values()].filter((c) => c.state === "active" && c.expiresAt > now);
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

/** Fingerprint of an identity key as admins see it: SHA-256 of the 32 key bytes, hex. */
export function keyFingerprint(identityKeyHex: string): string {
  return sha256Hex(fromHex(identityKeyHex));
}

function jobScopeAudit(by: string, d: DeviceRecord, previous: JobScope | undefined): AuditRecord {
  return { type: AuditEvent.JobScopeChanged, actor: by, subject: d.id, details: { scope: formatJobScope(d.jobScope), previous: formatJobScope(previous) } };
}

function view(r: RequestRecord): RequestView {
  return { ...r, keyFingerprint: keyFingerprint(r.identityKey) };
}

/** Handshake session ids as the manager issues them: `hs_` and 24 lowercase hex digits. */
const SESSION_ID_PATTERN = /^hs_[0-9a-f]{24}$/;
/** Pairing request ids as the manager issues them: `req_` and 24 lowercase hex digits. */
const REQUEST_ID_PATTERN = /^req_[0-9a-f]{24}$/;

/**
 * An id a node echoes back must have the one form the manager issues, checked before it is
 * looked up, logged or recorded; the refusal names its length, never its text.
 */
function checkId(value: unknown, pattern: RegExp, label: string, form: string): void {
  if (typeof value === "string" && pattern.test(value)) return;
  const got = typeof value === "string" ? `${value.length} characters` : typeof value;
  throw new PairingError("INVALID_ARGUMENT", `"${label}" must be ${form} (got ${got})`);
}

function checkSessionId(id: unknown): void {
  checkId(id, SESSION_ID_PATTERN, "sessionId", "hs_ and 24 lowercase hex digits, as Start answered");
}

function checkRequestId(id: unknown): void {
  checkId(id, REQUEST_ID_PATTERN, "requestId", "req_ and 24 lowercase hex digits, as Finish answered");
}

function asInvalid(cause: unknown): PairingError {
  if (cause instanceof PairingError) return cause;
  if (cause instanceof CryptoError) return new PairingError("INVALID_ARGUMENT", cause.message, { cause });
  if (cause instanceof Error && (cause as { code?: unknown }).code === "BAD_PUBLIC_KEY") {
    return new PairingError("INVALID_ARGUMENT", cause.message, { cause });
  }
  throw cause;
}

export type { RequestState };
