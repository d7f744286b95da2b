/**
 * The pairing state machine: minting codes, the two handshake steps, signed waiting, and the
 * admin's decision. Storage, the CA, the clock and randomness are injected, so the logic can
 * be driven by tests without a daemon. Every state change runs under one mutex and is durably
 * written before the caller gets an answer.
 *
 * `PairingManager` is the one public class. It composes parts that each own the records they
 * write, all sharing one context (repository, authority, clock, randomness, config and the one
 * mutex): the code book (codes.ts), the handshake sessions (handshake.ts), the requests and
 * their decisions (requests.ts), preauthorizations (preauth.ts) and the device registry
 * (devices.ts). Each method below is documented where its code is.
 */
import { Returns } from "./returns.js";
import type { ReturnInput, ReturnOutcome } from "./returns.js";
import type { Sealer } from "@tether/crypto";
import type { PairingConfig } from "./config.js";
import { resolvePairingConfig } from "./config.js";
import { CodeBook } from "./codes.js";
import type { MintedCode } from "./codes.js";
import { PairingContext } from "./context.js";
import type { Clock, PairingAuthority, RandomBytes } from "./context.js";
import { DeviceRegistry } from "./devices.js";
import type { DeviceListener, KeyRequest } from "./devices.js";
import { Handshakes } from "./handshake.js";
import type { RevealOutput, StartInput, StartOutput } from "./handshake.js";
import { Preauthorizations } from "./preauth.js";
import type { CodePolicy, CodeRecord, DeviceRecord, JobScope, PairingRepository, PreauthorizationRecord, RequestRecord, RequestState } from "./records.js";
import { RequestBook } from "./requests.js";
import type { RequestView } from "./requests.js";

export class PairingManager {
  readonly #ctx: PairingContext;
  readonly #codes: CodeBook;
  readonly #devices: DeviceRegistry;
  readonly #handshakes: Handshakes;
  readonly #requests: RequestBook;
  readonly #preauthorizations: Preauthorizations;
  readonly #returns: Returns;

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
    this.#ctx = new PairingContext({ repo: o.repo, ca: o.ca, clock: o.clock, random: o.randomBytes, config: resolvePairingConfig(o.config) });
    this.#codes = new CodeBook(this.#ctx, { advertise: o.advertise, sealer: o.sealer });
    this.#devices = new DeviceRegistry(this.#ctx);
    this.#handshakes = new Handshakes(this.#ctx, this.#codes, this.#devices);
    this.#requests = new RequestBook(this.#ctx, this.#devices);
    this.#preauthorizations = new Preauthorizations(this.#ctx, this.#devices, this.#requests);
    this.#returns = new Returns(this.#ctx, this.#devices);
  }

  /** {@inheritDoc Returns.return} */
  returnDevice(req: ReturnInput): Promise<ReturnOutcome> {
    return this.#returns.return(req);
  }

  /** {@inheritDoc Returns.setReturnPolicy} */
  setReturnPolicy(id: string, needsApproval: boolean, by: string): Promise<DeviceRecord> {
    return this.#returns.setReturnPolicy(id, needsApproval, by);
  }

  /** The injected clock's time, for adapters that schedule around it. */
  now(): number {
    return this.#ctx.clock.now();
  }

  get config(): PairingConfig {
    return this.#ctx.config;
  }

  /** {@inheritDoc CodeBook.mint} */
  mintCode(method: string, ttlMs?: number, policy?: CodePolicy): Promise<MintedCode> {
    return this.#codes.mint(method, ttlMs, policy);
  }

  /** {@inheritDoc Handshakes.start} */
  start(req: StartInput): Promise<StartOutput> {
    return this.#handshakes.start(req);
  }

  /** {@inheritDoc Handshakes.reveal} */
  reveal(req: { sessionId: string; ya: unknown }): Promise<RevealOutput> {
    return this.#handshakes.reveal(req);
  }

  /**
   * Handshake step 2 (node -> daemon): check the node's key confirmation and signature, use
   * up the code and store a pending request. Exactly one of several racing nodes wins a code.
   * @throws PairingError INVALID_ARGUMENT (a malformed session id, before any lookup),
   *   SESSION_NOT_FOUND, WRONG_CODE, BAD_SIGNATURE, CODE_USED, ...
   */
  async finish(req: { sessionId: string; nodeConfirmation: unknown; nodeSignature: unknown; peer?: string }): Promise<RequestRecord> {
    const created = await this.#handshakes.finish(req);
    // A code the admin minted with --approve: approved at once, as the code's (audit actor "code:ID").
    if (created.codePolicy?.approve) {
      const approved = await this.#requests.approveBy(this.#requests.pendingById(created.id), undefined, `code:${created.codeId}`);
      return { ...created, state: "approved", role: approved.role ?? created.codePolicy.role ?? created.requestedRole };
    }
    // Factory-provisioned keys are approved at once; the code was still required above.
    return this.#preauthorizations.approveIfPreauthorized(created);
  }

  /** {@inheritDoc RequestBook.authorizeAwait} */
  authorizeAwait(req: { requestId: string; timestamp: number; signature: unknown }): Promise<RequestRecord> {
    return this.#requests.authorizeAwait(req);
  }

  /** {@inheritDoc RequestBook.onDecision} */
  onDecision(requestId: string, listener: (r: RequestRecord) => void): () => void {
    return this.#requests.onDecision(requestId, listener);
  }

  /** {@inheritDoc RequestBook.onOutcome} */
  onOutcome(listener: (r: RequestRecord) => void): () => void {
    return this.#requests.onOutcome(listener);
  }

  getRequest(id: string): Promise<RequestView> {
    return this.#requests.getRequest(id);
  }

  listRequests(state?: string): Promise<RequestView[]> {
    return this.#requests.listRequests(state);
  }

  /** {@inheritDoc DeviceRegistry.onDevice} */
  onDevice(listener: DeviceListener): () => void {
    return this.#devices.onDevice(listener);
  }

  /** {@inheritDoc DeviceRegistry.revokeDevice} */
  revokeDevice(id: string, reason?: string, by = "admin"): Promise<DeviceRecord> {
    return this.#devices.revokeDevice(id, reason, by);
  }

  /** {@inheritDoc DeviceRegistry.clearRevocation} */
  clearRevocation(id: string, by = "admin"): Promise<DeviceRecord> {
    return this.#devices.clearRevocation(id, by);
  }

  /** {@inheritDoc DeviceRegistry.renew} */
  renew(req: KeyRequest): Promise<DeviceRecord> {
    return this.#devices.renew(req);
  }

  /** {@inheritDoc DeviceRegistry.setLabels} */
  setLabels(id: string, set: Record<string, string>, remove: string[] = []): Promise<DeviceRecord> {
    return this.#devices.setLabels(id, set, remove);
  }

  /** {@inheritDoc DeviceRegistry.setJobScope} */
  setJobScope(id: string, scope: JobScope | undefined, by = "admin"): Promise<DeviceRecord> {
    return this.#devices.setJobScope(id, scope, by);
  }

  /** {@inheritDoc DeviceRegistry.setRotateRequested} */
  setRotateRequested(id: string, on: boolean): Promise<DeviceRecord> {
    return this.#devices.setRotateRequested(id, on);
  }

  /** {@inheritDoc DeviceRegistry.issuePeerCertificate} */
  issuePeerCertificate(req: KeyRequest): ReturnType<DeviceRegistry["issuePeerCertificate"]> {
    return this.#devices.issuePeerCertificate(req);
  }

  /** {@inheritDoc Preauthorizations.preauthorize} */
  preauthorize(o: { identityKey: unknown; name?: string; role?: string; expiresAt?: number }): Promise<PreauthorizationRecord> {
    return this.#preauthorizations.preauthorize(o);
  }

  listPreauthorizations(): Promise<PreauthorizationRecord[]> {
    return this.#preauthorizations.listPreauthorizations();
  }

  /** {@inheritDoc Preauthorizations.revokePreauthorization} */
  revokePreauthorization(id: string): Promise<void> {
    return this.#preauthorizations.revokePreauthorization(id);
  }

  /** {@inheritDoc DeviceRegistry.recordPresence} */
  recordPresence(id: string, info: Pick<DeviceRecord, "capabilities" | "platform" | "version" | "lastSeen">): Promise<DeviceRecord> {
    return this.#devices.recordPresence(id, info);
  }

  /** {@inheritDoc RequestBook.approve} */
  approve(id: string, role?: string, jobScope?: JobScope, o: { code?: string } = {}): Promise<RequestView> {
    return this.#requests.approve(id, role, jobScope, o);
  }

  /** {@inheritDoc RequestBook.reject} */
  reject(id: string, reason?: string): Promise<RequestView> {
    return this.#requests.reject(id, reason);
  }

  listDevices(): Promise<DeviceRecord[]> {
    return this.#devices.listDevices();
  }

  getDevice(id: string): Promise<DeviceRecord> {
    return this.#devices.getDevice(id);
  }

  /**
   * Housekeeping: persist the expiry of pending requests (and tell their waiters), delete
   * codes past their expiry, and drop stale handshake sessions. Returns how many records changed.
   * One write under the mutex, across the parts: the requests' expiries, then the codes' deletes.
   */
  async sweep(): Promise<number> {
    let expired: RequestRecord[] = [];
    const n = await this.#ctx.mutex.run(async () => {
      const now = this.#ctx.clock.now();
      this.#handshakes.sweep(now);
      const requests = await this.#requests.expired(now);
      expired = requests.expired;
      const codes = await this.#codes.expired(now);
      const ops = [...requests.ops, ...codes.ops];
      if (ops.length) await this.#ctx.repo.batch(ops);
      codes.forget();
      return ops.length;
    });
    this.#requests.told(expired);
    return n;
  }

  /** {@inheritDoc RequestBook.load} */
  load(): Promise<void> {
    return this.#requests.load();
  }

  /** {@inheritDoc CodeBook.list} */
  listCodes(): Promise<CodeRecord[]> {
    return this.#codes.list();
  }
}

export type { RequestState };
