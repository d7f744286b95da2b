/**
 * The durable outbox: one record per event, written in the batch of the change it reports
 * (AuditLog's `alongside`, see the daemon), with a delivery state per endpoint that the sender
 * (sender.ts) moves on. Its id is the message id receivers see (`webhook-id`), the same on
 * every attempt, so they can drop a duplicate: delivery is at least once.
 */
import { createHash } from "node:crypto";
import type { WebhookEvent } from "./events.js";
import type { WatchMark } from "./watch.js";

export type Delivery = {
  state: "pending" | "delivered" | "failed";
  attempts: number;
  /** when the next attempt is due (ms) */
  nextAt: number;
  /** the receiver's last HTTP status, 0 when it did not answer */
  lastStatus?: number;
  /** why the last attempt failed, without the URL (it may hold a token) */
  lastError?: string;
  doneAt?: number;
};

export type OutboxRecord = {
  id: string;
  type: string;
  createdAt: number;
  /** the JSON body, exactly as signed and sent */
  body: string;
  /** by endpoint id */
  deliveries: Record<string, Delivery>;
};

export type WebhookTables = { webhookOutbox: OutboxRecord; webhookWatch: WatchMark };
/** The outbox, and the marks of the time-made events already sent (watch.ts). */
export const WEBHOOK_TABLES = ["webhookOutbox", "webhookWatch"] as const;

/** A receiver: its id (stable for one URL, so a restart finds its deliveries) and its URL. */
export type Endpoint = { id: string; url: string };

export function endpoint(url: string): Endpoint {
  return { id: `ep_${createHash("sha256").update(url).digest("hex").slice(0, 16)}`, url };
}

/**
 * Message ids that sort in the order the events happened: the time, then a counter that goes
 * on within one millisecond (and across a clock that stepped back), then randomness so two
 * daemons' ids never collide. One per daemon.
 */
export class OutboxIds {
  #lastMs = 0;
  #seq = 0;
  readonly #random: (n: number) => Uint8Array;

  constructor(random: (n: number) => Uint8Array) {
    this.#random = random;
  }

  next(now: number): string {
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#seq = 0;
    } else this.#seq++;
    return `msg_${this.#lastMs.toString(36).padStart(9, "0")}${this.#seq.toString(36).padStart(5, "0")}${Buffer.from(this.#random(6)).toString("hex")}`;
  }
}

/** The outbox records for `events`, addressed to every endpoint, due at once. */
export function outboxRecords(events: readonly WebhookEvent[], endpoints: readonly Endpoint[], now: number, ids: OutboxIds): OutboxRecord[] {
  if (!endpoints.length) return [];
  return events.map((e) => {
    const id = ids.next(now);
    const body = JSON.stringify({ type: e.type, timestamp: new Date(now).toISOString(), data: e.data });
    return { id, type: e.type, createdAt: now, body, deliveries: Object.fromEntries(endpoints.map((ep) => [ep.id, { state: "pending" as const, attempts: 0, nextAt: now }])) };
  });
}
