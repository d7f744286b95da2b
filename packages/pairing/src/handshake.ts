/**
 * The CPace handshake: Start, Reveal and Finish, and the in-memory sessions between them.
 * Start counts an attempt against a code (through the code book); Finish uses the code up and
 * creates the pending request, in one write.
 */
import {
  CryptoError,
  SID_BYTES,
  bytes,
  checkClaims,
  confirmationMatches,
  daemonComplete,
  daemonShare,
  daemonSignedMessage,
  deviceIdFromIdentityKey,
  fingerprintBytes,
  identityVerify,
  isValidSelector,
  nodeSignedMessage,
  toHex,
  COMMITMENT_BYTES,
  PAIR_PROTOCOL_VERSION,
} from "@tether/crypto";
import type { NodeClaims, PairMethod, SessionKeys } from "@tether/crypto";
import { AuditEvent } from "@tether/base";
import type { CodeBook } from "./codes.js";
import { failedAttempts } from "./codes.js";
import type { PairingContext } from "./context.js";
import { asInvalid, checkId } from "./context.js";
import type { DeviceRegistry } from "./devices.js";
import { PairingError } from "./errors.js";
import type { CodeRecord, RequestRecord } from "./records.js";

/** A request keeps at most this much of the address its Finish came from. */
const MAX_PEER_ADDRESS_CHARS = 100;

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

export class Handshakes {
  readonly #ctx: PairingContext;
  readonly #codes: CodeBook;
  readonly #devices: DeviceRegistry;
  readonly #sessions = new Map<string, Session>();

  constructor(ctx: PairingContext, codes: CodeBook, devices: DeviceRegistry) {
    this.#ctx = ctx;
    this.#codes = codes;
    this.#devices = devices;
  }

  /**
   * Handshake step 1 (node -> daemon). Counts one attempt against the code, durably, before
   * answering.
   * @throws PairingError for a malformed field or an unusable code.
   */
  async start(req: StartInput): Promise<StartOutput> {
    const { ca, mutex, clock, config, random } = this.#ctx;
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
      ca.checkNodePublicKey(claims.tlsPublicKey);
    } catch (cause) {
      throw asInvalid(cause);
    }
    const started = await mutex.run(async () => {
      const now = clock.now();
      this.sweep(now);
      if (this.#sessions.size >= config.maxSessions) {
        throw new PairingError("TOO_MANY_SESSIONS", "too many handshakes in progress; try again shortly");
      }
      const code = await this.#codes.find(method, req.selector);
      this.#codes.checkUsable(code, now);
      await this.#devices.refuseRevoked(deviceIdFromIdentityKey(claims.identityKey));
      const scalar = random(32);
      const yb = daemonShare(this.#codes.openPrs(code), method, code.selector, sid, scalar);
      // The attempt is on disk before the node can learn anything from our answer: the write
      // is handed to the store here, in order, and awaited below, outside the mutex.
      const written = this.#codes.put({ ...code, attempts: code.attempts + 1 });
      written.catch(() => undefined); // awaited below; a failure is this call's error
      const session: Session = {
        id: this.#ctx.id("hs_"),
        codeId: code.id,
        method,
        selector: code.selector,
        sid,
        commitment,
        yb,
        scalar,
        claims,
        expiresAt: Math.min(now + config.sessionTtlMs, code.expiresAt),
      };
      this.#sessions.set(session.id, session);
      return {
        written,
        out: {
          sessionId: session.id,
          yb,
          caCertificate: ca.caCertDer,
          signerCertificate: ca.signerCertDer,
          sessionExpiresAt: session.expiresAt,
        },
      };
    });
    await started.written;
    return started.out;
  }

  /**
   * Handshake step 2 (node -> daemon): the node reveals its share; the daemon checks it
   * against the commitment, derives the keys and proves it knows the code. One Reveal a session.
   * @throws PairingError INVALID_ARGUMENT (a session id not of the form the daemon issues,
   *   before any lookup; or a bad share or commitment mismatch, and the session is then
   *   dropped), SESSION_NOT_FOUND, SESSION_EXPIRED.
   */
  async reveal(req: { sessionId: string; ya: unknown }): Promise<RevealOutput> {
    const { ca, mutex, clock } = this.#ctx;
    checkSessionId(req.sessionId);
    return mutex.run(async () => {
      const now = clock.now();
      const session = this.#sessions.get(req.sessionId);
      if (!session || session.keys) {
        throw new PairingError("SESSION_NOT_FOUND", "unknown handshake session (it may have been used or expired)");
      }
      if (session.expiresAt <= now) {
        this.#dropSession(session);
        throw new PairingError("SESSION_EXPIRED", "handshake session expired; start again");
      }
      const code = (await this.#codes.all()).get(session.codeId);
      try {
        session.keys = daemonComplete(
          {
            method: session.method,
            selector: session.selector,
            sid: session.sid,
            ya: req.ya as Uint8Array,
            yb: session.yb,
            claims: session.claims,
            caCertDer: ca.caCertDer,
            caFingerprint: fingerprintBytes(ca.caFingerprint),
            signerCertDer: ca.signerCertDer,
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
        daemonSignature: ca.signTranscript(daemonSignedMessage(session.keys.th)),
      };
    });
  }

  #dropSession(s: Session): void {
    s.scalar.fill(0);
    this.#sessions.delete(s.id);
  }

  /** Drop the sessions past their expiry (caller holds the mutex). */
  sweep(now: number): void {
    for (const s of this.#sessions.values()) if (s.expiresAt <= now) this.#dropSession(s);
  }

  /**
   * The handshake part of Finish: check the session id's form (before any lookup), the node's
   * key confirmation and signature, use up the code and store a pending request, in one write
   * under the mutex.
   */
  async finish(req: { sessionId: string; nodeConfirmation: unknown; nodeSignature: unknown; peer?: string }): Promise<RequestRecord> {
    const { repo, mutex, clock, config } = this.#ctx;
    checkSessionId(req.sessionId);
    return mutex.run(async () => {
      const now = clock.now();
      const found = this.#sessions.get(req.sessionId);
      // One-shot: whatever happens next, this session cannot be finished again.
      if (found) this.#dropSession(found);
      if (!found?.keys) throw new PairingError("SESSION_NOT_FOUND", "unknown handshake session (it may have been used or expired, or Reveal was skipped)");
      const session = found as Session & { keys: SessionKeys };
      if (session.expiresAt <= now) throw new PairingError("SESSION_EXPIRED", "handshake session expired; start again");
      const code = (await this.#codes.all()).get(session.codeId);
      if (!code) throw new PairingError("CODE_EXPIRED", "pairing code has expired");
      const conf = req.nodeConfirmation instanceof Uint8Array ? req.nodeConfirmation : new Uint8Array();
      if (!confirmationMatches(session.keys.nodeConfirmation, conf)) {
        if (code.state === "active" && failedAttempts(code) >= config.maxCodeAttempts) {
          await this.#codes.put({ ...code, state: "burned" });
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
        id: this.#ctx.id("req_"),
        state: "pending",
        deviceId: deviceIdFromIdentityKey(session.claims.identityKey),
        name: session.claims.name,
        requestedRole: session.claims.role,
        identityKey: toHex(session.claims.identityKey),
        tlsPublicKey: Buffer.from(session.claims.tlsPublicKey).toString("base64"),
        verificationCode: session.keys.verificationCode,
        method: session.method,
        codeId: code.id,
        ...(code.policy ? { codePolicy: code.policy } : {}),
        ...(req.peer ? { peerAddress: req.peer.slice(0, MAX_PEER_ADDRESS_CHARS) } : {}),
        createdAt: now,
        expiresAt: now + config.requestTtlMs,
      };
      // Used up once it has paired as many devices as its policy allows (one, unless it says more).
      const used = (code.used ?? 0) + 1;
      const spent: CodeRecord = { ...code, used, requestId: request.id, ...(used >= (code.policy?.uses ?? 1) ? { state: "used" as const } : {}) };
      await repo.batch(
        [
          { table: "codes", type: "put", value: spent },
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
      this.#codes.written(spent);
      return request;
    });
  }
}

/** Handshake session ids as the manager issues them: `hs_` and 24 lowercase hex digits. */
const SESSION_ID_PATTERN = /^hs_[0-9a-f]{24}$/;

function checkSessionId(id: unknown): void {
  checkId(id, SESSION_ID_PATTERN, "sessionId", "hs_ and 24 lowercase hex digits, as Start answered");
}
