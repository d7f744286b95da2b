/**
 * A token bucket per key (the peer's address), to slow down code-burning, scanning and floods
 * of refused calls. The Pairing service keeps two: one that each Start takes from, and one
 * that each Pairing call takes from and a successful one gives back (docs/protocol.md, §8).
 * And a Tally of what is open per address, for the caps on concurrent things.
 */
export type RateLimit = { burst: number; perSecond: number };
export const DEFAULT_START_RATE_LIMIT: RateLimit = { burst: 30, perSecond: 2 };

export class RateLimiter {
  #limit: RateLimit;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(limit: RateLimit, now: () => number) {
    this.#limit = limit;
    this.#now = now;
  }

  get limit(): RateLimit {
    return this.#limit;
  }

  /**
   * Change the budget from now on (a configuration reload). Buckets keep what they hold, cut
   * to a smaller burst when next used, and refill at the new rate.
   */
  setLimit(limit: RateLimit): void {
    this.#limit = limit;
  }

  /** Take one token for `key`; false when the bucket is empty. */
  take(key: string): boolean {
    const b = this.#bucket(key);
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    return ok;
  }

  /** Give back a token taken for `key` (a call that turned out not to count). */
  give(key: string): void {
    const b = this.#bucket(key);
    b.tokens = Math.min(this.#limit.burst, b.tokens + 1);
  }

  #bucket(key: string): { tokens: number; at: number } {
    const now = this.#now();
    const b = this.#buckets.get(key) ?? { tokens: this.#limit.burst, at: now };
    // A clock that steps back must not drain the bucket.
    b.tokens = Math.min(this.#limit.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.#limit.perSecond);
    b.at = now;
    this.#buckets.set(key, b);
    if (this.#buckets.size > 10_000) this.#prune(now);
    return b;
  }

  #prune(now: number): void {
    const full = (this.#limit.burst / this.#limit.perSecond) * 1000;
    for (const [k, b] of this.#buckets) if (now - b.at > full) this.#buckets.delete(k);
  }
}

/** "ipv4:1.2.3.4:5678" -> "ipv4:1.2.3.4": the address without the port. */
export function peerAddress(peer: string): string {
  const i = peer.lastIndexOf(":");
  return i > 0 ? peer.slice(0, i) : peer;
}

/**
 * How many of something are open now for each key (a source address), and in all: the
 * listener's handshakes in progress, the health Watch streams. A key leaves the map when its
 * count is back to 0, so the map holds only addresses with something open.
 */
export class Tally {
  readonly #byKey = new Map<string, number>();
  #total = 0;

  /** open now for `key` */
  of(key: string): number {
    return this.#byKey.get(key) ?? 0;
  }

  /** open now, for every key together */
  get total(): number {
    return this.#total;
  }

  add(key: string): void {
    this.#byKey.set(key, this.of(key) + 1);
    this.#total++;
  }

  /** One of `key`'s is closed (a key with none open is left as it is). */
  remove(key: string): void {
    const n = this.#byKey.get(key);
    if (n === undefined) return;
    if (n > 1) this.#byKey.set(key, n - 1);
    else this.#byKey.delete(key);
    this.#total--;
  }
}
