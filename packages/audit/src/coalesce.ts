/**
 * Repeated audit events folded into one entry with a count, so that a flood of the same
 * event (an unauthenticated caller's refused handshakes) costs a bounded number of entries
 * and of fsyncs, whatever its rate.
 *
 * Events are grouped by a key the caller chooses (the daemon: peer address, RPC and error
 * code). The first event of a key that has been quiet is appended at once, durably, like any
 * other entry. Later ones within its window (`windowMs`) are only counted; when the window
 * ends, one entry stands for them: the first counted event with `count`, `firstAt` and
 * `lastAt` (ms) added to its details. A key that had events counted starts a new window at
 * once, so a steady flood costs one entry per key and window; a key whose window ends with
 * nothing counted is forgotten. At most `maxKeys` keys are tracked: events of further keys
 * are counted together under one overflow entry (details `overflow: true`).
 *
 * Time comes from the injected `now`; the caller runs flushDue() on a timer, and flushAll()
 * before the log is read and at shutdown. A crash loses at most the counts of the current
 * windows (each key's first event is already on disk).
 */
import type { AuditRecord } from "@tether/base";
import type { AuditTrail } from "./audit.js";

export const DEFAULT_COALESCE_WINDOW_MS = 60_000;
export const DEFAULT_COALESCE_MAX_KEYS = 256;
/** The key under which events of new keys are counted while maxKeys keys are tracked. */
export const COALESCE_OVERFLOW_KEY = "…";

type Counted = { event: AuditRecord; count: number; firstAt: number; lastAt: number };
type Tracked = { windowEnd: number; counted?: Counted };

export class AuditCoalescer {
  readonly #trail: Pick<AuditTrail, "appendAll">;
  readonly #now: () => number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #keys = new Map<string, Tracked>();

  /** @throws RangeError when `windowMs` or `maxKeys` is not a positive integer. */
  constructor(o: { trail: Pick<AuditTrail, "appendAll">; now: () => number; windowMs?: number; maxKeys?: number }) {
    this.#trail = o.trail;
    this.#now = o.now;
    this.#windowMs = o.windowMs ?? DEFAULT_COALESCE_WINDOW_MS;
    this.#maxKeys = o.maxKeys ?? DEFAULT_COALESCE_MAX_KEYS;
    if (!Number.isInteger(this.#windowMs) || this.#windowMs <= 0) throw new RangeError(`"windowMs" must be a positive integer, got ${this.#windowMs}`);
    if (!Number.isInteger(this.#maxKeys) || this.#maxKeys <= 0) throw new RangeError(`"maxKeys" must be a positive integer, got ${this.#maxKeys}`);
  }

  /** How many keys are tracked now (the overflow key included). */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * One occurrence of `event` under `key`: "written" once it has been appended (durably), as
   * the first of its key in a window; else "counted", at once and without any I/O.
   */
  async note(key: string, event: AuditRecord): Promise<"written" | "counted"> {
    const now = this.#now();
    const t = this.#keys.get(key);
    if (!t && this.#keys.size >= this.#maxKeys) {
      // Many keys at once is itself the flood: nothing more is written at once.
      const o = this.#keys.get(COALESCE_OVERFLOW_KEY) ?? { windowEnd: now + this.#windowMs };
      this.#keys.set(COALESCE_OVERFLOW_KEY, o);
      count(o, { ...event, details: { ...event.details, overflow: true } }, now);
      return "counted";
    }
    if (t && !(now >= t.windowEnd && !t.counted)) {
      count(t, event, now);
      return "counted";
    }
    this.#keys.set(key, { windowEnd: now + this.#windowMs });
    try {
      await this.#trail.appendAll([event]);
    } catch (err) {
      this.#keys.delete(key); // not on disk: the next one is written again
      throw err;
    }
    return "written";
  }

  /**
   * Write one entry for each key whose window has ended with events counted (all in one
   * write), and forget the keys whose window ended quietly. Returns how many entries it wrote.
   */
  flushDue(): Promise<number> {
    const now = this.#now();
    const due: [string, Counted][] = [];
    for (const [key, t] of this.#keys) {
      if (now < t.windowEnd) continue;
      if (!t.counted) {
        this.#keys.delete(key);
        continue;
      }
      due.push([key, t.counted]);
      t.counted = undefined;
      t.windowEnd = now + this.#windowMs;
    }
    return this.#write(due);
  }

  /** Write every count now, windows ended or not (before the log is read; at shutdown). */
  flushAll(): Promise<number> {
    const due: [string, Counted][] = [];
    for (const [key, t] of this.#keys) {
      if (!t.counted) continue;
      due.push([key, t.counted]);
      t.counted = undefined;
    }
    return this.#write(due);
  }

  async #write(due: [string, Counted][]): Promise<number> {
    if (due.length === 0) return 0;
    const entries = due.map(([, c]) => ({ ...c.event, details: { ...c.event.details, count: c.count, firstAt: c.firstAt, lastAt: c.lastAt } }));
    try {
      await this.#trail.appendAll(entries);
    } catch (err) {
      // Not on disk: give the counts back, so the next flush writes them.
      const now = this.#now();
      for (const [key, c] of due) {
        const t = this.#keys.get(key) ?? { windowEnd: now };
        t.counted = t.counted ? { ...c, count: c.count + t.counted.count, lastAt: t.counted.lastAt } : c;
        this.#keys.set(key, t);
      }
      throw err;
    }
    return entries.length;
  }
}

function count(t: Tracked, event: AuditRecord, now: number): void {
  if (t.counted) {
    t.counted.count++;
    t.counted.lastAt = now;
  } else t.counted = { event, count: 1, firstAt: now, lastAt: now };
}
