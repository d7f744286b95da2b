/**
 * Delivers the outbox (outbox.ts) to each endpoint, off the path of every pairing, approval and
 * dispatch: it runs on its own timer, reads the outbox, and writes only delivery states. Per
 * endpoint the messages go one at a time in outbox order; a failure (no answer within the
 * timeout, or a status other than 2xx) stops that endpoint's pass, and the message is tried
 * again after a backoff that doubles from `firstRetryMs` up to `maxRetryMs`, each wait jittered
 * (a half to the whole of it), until `retryForMs` after the event, when it is marked failed. A
 * receiver's URL and answers are never logged with its secret; the URL is logged redacted.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Logger, Repository } from "@tether/base";
import { redactUrl } from "@tether/base";
import type { Secret } from "@tether/crypto";
import type { Delivery, Endpoint, OutboxRecord, WebhookTables } from "./outbox.js";
import { signedHeaders } from "./sign.js";

export type RetryPolicy = { firstRetryMs: number; maxRetryMs: number; retryForMs: number; timeoutMs: number };
export const DEFAULT_RETRY: RetryPolicy = { firstRetryMs: 5_000, maxRetryMs: 30 * 60_000, retryForMs: 24 * 60 * 60_000, timeoutMs: 10_000 };
/** Delivered or failed messages are kept this long (for `deliveries`), then deleted. */
export const KEEP_DONE_MS = 7 * 24 * 60 * 60_000;
/** How often the sender looks at the outbox when nothing kicks it. */
export const PASS_INTERVAL_MS = 1_000;
/**
 * How often a pass reads the whole outbox: it then drops the done messages past KEEP_DONE_MS,
 * and finds pending ones nobody told it of (made due again by another process, or left by the
 * daemon this one took over from). Between, a pass reads only the messages it holds as pending
 * and those `track` named.
 */
export const RESCAN_MS = 60_000;

const pendingIn = (r: OutboxRecord) => Object.values(r.deliveries).some((d) => d.state === "pending");
const byId = (a: OutboxRecord, b: OutboxRecord) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** One POST: resolves with the HTTP status (0: no answer: refused, reset or timed out). */
export type Post = (url: string, headers: Record<string, string>, body: string, timeoutMs: number) => Promise<{ status: number; error?: string }>;

export const post: Post = (url, headers, body, timeoutMs) =>
  new Promise((resolve) => {
    const u = new URL(url);
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(
      u,
      { method: "POST", headers: { ...headers, "content-length": Buffer.byteLength(body) }, timeout: timeoutMs },
      (res) => {
        res.resume(); // the answer's body is not read, nor kept
        res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
        res.on("error", () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => resolve({ status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end(body);
  });

/** The wait before attempt `attempts + 1`: doubling, capped, jittered to between half and all of it. */
export function backoffMs(attempts: number, p: RetryPolicy, random: () => number): number {
  const full = Math.min(p.maxRetryMs, p.firstRetryMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(full / 2 + (random() * full) / 2);
}

export class WebhookSender {
  readonly #repo: Repository<WebhookTables>;
  readonly #endpoints: readonly Endpoint[];
  readonly #key: Secret<Uint8Array>;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #log: Logger;
  readonly #retry: RetryPolicy;
  readonly #post: Post;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** the messages with a delivery still pending, as last read or written */
  #pending = new Map<string, OutboxRecord>();
  /** ids written since (track), to read; one not found yet (its batch not committed) stays until the next full read */
  readonly #told = new Set<string>();
  #scannedAt = Number.NEGATIVE_INFINITY;

  constructor(o: {
    repo: Repository<WebhookTables>;
    endpoints: readonly Endpoint[];
    key: Secret<Uint8Array>;
    now: () => number;
    random: () => number;
    log: Logger;
    retry?: Partial<RetryPolicy>;
    post?: Post;
  }) {
    this.#repo = o.repo;
    this.#endpoints = o.endpoints;
    this.#key = o.key;
    this.#now = o.now;
    this.#random = o.random;
    this.#log = o.log;
    this.#retry = { ...DEFAULT_RETRY, ...o.retry };
    this.#post = o.post ?? post;
  }

  start(): void {
    this.#timer = setInterval(() => this.kick(), PASS_INTERVAL_MS);
    this.#timer.unref();
    this.kick();
  }

  /** Messages just written (or made due again): the next pass reads them without reading the whole outbox. */
  track(ids: Iterable<string>): void {
    for (const id of ids) this.#told.add(id);
  }

  /** Look at the outbox soon (a new event was written); passes never overlap. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.pass()
      .then(() => undefined)
      .catch((err: unknown) => this.#log.warn("webhooks: a delivery pass failed; it runs again in a second", { error: (err as Error).message }))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  /** One pass over the outbox: each endpoint's due messages, in order, until one fails. Returns the attempts made. */
  async pass(): Promise<number> {
    const now = this.#now();
    if (now - this.#scannedAt >= RESCAN_MS) {
      const all = await this.#repo.list("webhookOutbox");
      const drop = all.filter((r) => Object.values(r.deliveries).every((d) => d.state !== "pending" && now - (d.doneAt ?? r.createdAt) > KEEP_DONE_MS));
      if (drop.length)
        await this.#repo.batch(
          drop.map((r) => ({ table: "webhookOutbox" as const, type: "del" as const, key: r.id })),
          { sync: false },
        );
      this.#pending = new Map(all.filter(pendingIn).map((r) => [r.id, r]));
      this.#told.clear();
      this.#scannedAt = now;
    } else {
      for (const id of [...this.#told]) {
        const r = await this.#repo.get("webhookOutbox", id);
        if (!r) continue; // its batch is not committed yet (or failed): asked again next pass
        this.#told.delete(id);
        if (pendingIn(r)) this.#pending.set(id, r);
      }
    }
    const due = [...this.#pending.values()].sort(byId);
    const counts = await Promise.all(this.#endpoints.map((ep) => this.#passFor(ep, due)));
    return counts.reduce((a, b) => a + b, 0);
  }

  async #passFor(ep: Endpoint, all: readonly OutboxRecord[]): Promise<number> {
    let attempts = 0;
    for (const r of all) {
      if (this.#stopped) break;
      const d = r.deliveries[ep.id];
      if (!d || d.state !== "pending") continue;
      const now = this.#now();
      if (d.nextAt > now) break; // in order: nothing later goes before it
      const res = await this.#post(ep.url, signedHeaders(this.#key, r.id, Math.floor(now / 1000), r.body), r.body, this.#retry.timeoutMs);
      attempts++;
      const after = this.#now();
      const ok = res.status >= 200 && res.status < 300;
      const next: Delivery = ok
        ? { state: "delivered", attempts: d.attempts + 1, nextAt: 0, lastStatus: res.status, doneAt: after }
        : after - r.createdAt >= this.#retry.retryForMs
          ? { state: "failed", attempts: d.attempts + 1, nextAt: 0, lastStatus: res.status, lastError: res.error ?? `HTTP ${res.status}`, doneAt: after }
          : {
              state: "pending",
              attempts: d.attempts + 1,
              nextAt: after + backoffMs(d.attempts + 1, this.#retry, this.#random),
              lastStatus: res.status,
              lastError: res.error ?? `HTTP ${res.status}`,
            };
      // Read again: another endpoint's pass may have written this record meanwhile.
      const cur = (await this.#repo.get("webhookOutbox", r.id)) ?? r;
      const written = { ...cur, deliveries: { ...cur.deliveries, [ep.id]: next } };
      await this.#repo.batch([{ table: "webhookOutbox", type: "put", value: written }], { sync: false });
      if (pendingIn(written)) this.#pending.set(written.id, written);
      else this.#pending.delete(written.id);
      if (next.state === "failed") this.#log.warn("webhooks: gave up on a message", { endpoint: redactUrl(ep.url), message: r.id, event: r.type, attempts: next.attempts });
      if (!ok) break;
    }
    return attempts;
  }
}
