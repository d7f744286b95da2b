/**
 * The code book: minting single-use pairing codes, finding one by its selector, and the cached
 * map of every code record. It owns the writes of the `codes` table; the one write it does not
 * make itself (using a code up, in the same batch as the request it creates) is reported to it
 * with `written`, so the cache stays in step.
 */
import { Secret, derivePrs, formatPairingUri, formatPin, fromHex, generatePinSecret, randomDigits, toHex, QR_SECRET_BYTES, QR_SELECTOR_BYTES } from "@tether/crypto";
import type { PairMethod, Sealer } from "@tether/crypto";
import { AuditEvent } from "@tether/base";
import { MIN_CODE_TTL_MS } from "./config.js";
import type { PairingContext } from "./context.js";
import { PairingError } from "./errors.js";
import type { CodePolicy, CodeRecord, PairingOp } from "./records.js";
import { LABEL_RE, MAX_LABELS } from "./scope.js";

/** The most devices one code may pair (`--uses`). */
export const MAX_CODE_USES = 1000;

/** Handshakes started against a code that did not pair a device (the attempt budget counts these). */
export function failedAttempts(c: CodeRecord): number {
  return c.attempts - (c.used ?? 0);
}

/**
 * A code policy as the admin asked for it, checked; undefined when it asks for nothing.
 * @throws PairingError INVALID_ARGUMENT
 */
export function checkPolicy(p: CodePolicy | undefined): CodePolicy | undefined {
  if (!p) return undefined;
  const out: CodePolicy = {};
  const role = p.role as string | undefined;
  if (role !== undefined && role !== "") {
    if (role !== "node" && role !== "orchestrator") throw new PairingError("INVALID_ARGUMENT", 'role must be "node" or "orchestrator"');
    out.role = role;
  }
  const labels = Object.entries(p.labels ?? {});
  if (labels.length > MAX_LABELS) throw new PairingError("INVALID_ARGUMENT", `at most ${MAX_LABELS} labels`);
  for (const [k, v] of labels) {
    if (!LABEL_RE.test(k) || !LABEL_RE.test(v))
      throw new PairingError("INVALID_ARGUMENT", `label ${JSON.stringify(`${k}=${v}`).slice(0, 140)}: keys and values must match [a-z0-9][a-z0-9._-]{0,62}`);
  }
  if (labels.length) out.labels = Object.fromEntries(labels);
  if (p.approve) out.approve = true;
  if (p.uses !== undefined && p.uses !== 0) {
    if (!Number.isInteger(p.uses) || p.uses < 1 || p.uses > MAX_CODE_USES) throw new PairingError("INVALID_ARGUMENT", `uses must be a whole number from 1 to ${MAX_CODE_USES}`);
    if (p.uses > 1) out.uses = p.uses;
  }
  return Object.keys(out).length ? out : undefined;
}

export type MintedCode = { record: CodeRecord; code: Secret<string> };

export class CodeBook {
  readonly #ctx: PairingContext;
  readonly #advertise: () => string;
  readonly #sealer: Sealer;
  /**
   * Every code record, as stored: a few hundred at most (live codes are capped, the sweep
   * deletes expired ones), read at each Start and mint; loaded once, kept in step with each
   * write (all under the mutex).
   */
  #codes: Map<string, CodeRecord> | undefined;
  #codesLoading: Promise<Map<string, CodeRecord>> | undefined;

  constructor(ctx: PairingContext, o: { advertise: () => string; sealer: Sealer }) {
    this.#ctx = ctx;
    this.#advertise = o.advertise;
    this.#sealer = o.sealer;
  }

  /**
   * Mint a pairing code (single use, unless its policy allows more). Only its sealed password
   * is stored.
   * @throws PairingError INVALID_ARGUMENT for a bad method, TTL or policy; TOO_MANY_CODES.
   */
  async mint(method: string, ttlMs?: number, asked?: CodePolicy): Promise<MintedCode> {
    const { config, mutex, clock, random, repo, ca } = this.#ctx;
    if (method !== "pin" && method !== "qr") throw new PairingError("INVALID_ARGUMENT", 'method must be "pin" or "qr"');
    const policy = checkPolicy(asked);
    const ttl = ttlMs === undefined || ttlMs === 0 ? config.defaultCodeTtlMs : ttlMs;
    if (!Number.isInteger(ttl) || ttl < MIN_CODE_TTL_MS || ttl > config.maxCodeTtlMs) {
      throw new PairingError("INVALID_ARGUMENT", `ttl must be between ${MIN_CODE_TTL_MS / 1000} and ${config.maxCodeTtlMs / 1000} seconds`);
    }
    return mutex.run(async () => {
      const now = clock.now();
      const live = [...(await this.all()).values()].filter((c) => c.state === "active" && c.expiresAt > now);
      if (live.length >= config.maxActiveCodes) {
        throw new PairingError("TOO_MANY_CODES", `at most ${config.maxActiveCodes} codes can be active at once`);
      }
      const expiresAt = now + ttl;
      let selector: string;
      let secret: Uint8Array | string;
      let code: string;
      if (method === "pin") {
        const taken = new Set(live.filter((c) => c.method === "pin").map((c) => c.selector));
        do selector = randomDigits(3, random);
        while (taken.has(selector));
        secret = generatePinSecret(random);
        code = formatPin(selector, secret);
      } else {
        selector = toHex(random(QR_SELECTOR_BYTES));
        secret = random(QR_SECRET_BYTES);
        code = formatPairingUri({
          address: this.#advertise(),
          selector,
          secret,
          caFingerprint: ca.caFingerprint,
          expiresAt,
        });
      }
      const id = this.#ctx.id("code_");
      const record: CodeRecord = {
        id,
        method,
        selector,
        prsSealed: toHex(this.#sealer.seal(derivePrs(method, selector, secret), id)),
        createdAt: now,
        expiresAt,
        attempts: 0,
        state: "active",
        ...(policy ? { policy } : {}),
      };
      const granted = policy
        ? {
            ...(policy.role ? { role: policy.role } : {}),
            ...(policy.labels ? { labels: JSON.stringify(policy.labels) } : {}),
            approve: Boolean(policy.approve),
            uses: policy.uses ?? 1,
          }
        : {};
      await repo.batch([{ table: "codes", type: "put", value: record }], {
        audit: [{ type: AuditEvent.CodeMinted, actor: "admin", subject: record.id, details: { method, selector, expiresAt, ...granted } }],
      });
      this.#codes?.set(record.id, record);
      return { record, code: new Secret(code, "PairingCode") };
    });
  }

  async find(method: PairMethod, selector: string): Promise<CodeRecord> {
    const matches = [...(await this.all()).values()].filter((c) => c.method === method && c.selector === selector).sort((a, b) => b.createdAt - a.createdAt);
    const code = matches[0];
    if (!code) throw new PairingError("CODE_NOT_FOUND", "no pairing code with that selector");
    return code;
  }

  checkUsable(code: CodeRecord, now: number): void {
    if (code.state === "used") throw new PairingError("CODE_USED", "pairing code has already been used");
    if (code.state === "burned" || failedAttempts(code) >= this.#ctx.config.maxCodeAttempts) {
      throw new PairingError("CODE_BURNED", "pairing code was burned after too many failed attempts; mint a new one");
    }
    if (code.expiresAt <= now) throw new PairingError("CODE_EXPIRED", "pairing code has expired");
  }

  /** The code's PRS, unsealed for one handshake. */
  openPrs(code: CodeRecord): Uint8Array {
    if (!code.prsSealed) throw new PairingError("CODE_EXPIRED", "pairing code was minted for an older protocol; mint a new one");
    return this.#sealer.open(fromHex(code.prsSealed), code.id);
  }

  /** All code records, from the cache (loaded on first use). Caller holds the mutex or only reads. */
  all(): Promise<Map<string, CodeRecord>> {
    // one load, shared by concurrent first callers (a second load could drop a newer write)
    this.#codesLoading ??= this.#ctx.repo.list("codes").then((list) => (this.#codes = new Map(list.map((c) => [c.id, c]))));
    return this.#codesLoading;
  }

  /**
   * Write a code record (caller holds the mutex): into the cache at once, which is what every
   * read of a code sees, and handed to the store in call order. Resolves once it is durable,
   * so a caller may release the mutex and await it outside: concurrent handshakes then share
   * one group commit. (A write that fails fails the store, which then refuses everything.)
   */
  put(c: CodeRecord): Promise<void> {
    const written = this.#ctx.repo.batch([{ table: "codes", type: "put", value: c }]);
    this.#codes?.set(c.id, c);
    return written;
  }

  /** Keep the cache in step with a code record another part wrote in its own batch (caller holds the mutex). */
  written(c: CodeRecord): void {
    this.#codes?.set(c.id, c);
  }

  /** Active (unexpired, unused) codes, for the admin's view. The code values are never kept. */
  async list(): Promise<CodeRecord[]> {
    const now = this.#ctx.clock.now();
    return [...(await this.all()).values()].filter((c) => c.state === "active" && c.expiresAt > now);
  }

  /**
   * The sweep's deletes of codes past their expiry (caller holds the mutex), and `forget`, to
   * call once they are written.
   */
  async expired(now: number): Promise<{ ops: PairingOp[]; forget: () => void }> {
    const ops: PairingOp[] = [];
    const gone: string[] = [];
    for (const c of (await this.all()).values()) {
      if (c.expiresAt <= now) {
        ops.push({ table: "codes", type: "del", key: c.id });
        gone.push(c.id);
      }
    }
    return { ops, forget: () => gone.forEach((id) => this.#codes?.delete(id)) };
  }
}
