/**
 * What the admin sees of the webhooks and may do (tether webhooks list|deliveries|redeliver):
 * read off the outbox, and one write, a message made due again for every receiver.
 */
import type { Repository } from "@tether/base";
import { redactUrl } from "@tether/base";
import type { Delivery, Endpoint, OutboxRecord, WebhookTables } from "./outbox.js";

export type ReceiverSummary = { id: string; url: string; pending: number; delivered: number; failed: number };
export const MAX_DELIVERIES_LIMIT = 1000;

/** Each receiver with how many messages are pending, delivered and failed for it. */
export async function receivers(repo: Repository<WebhookTables>, endpoints: readonly Endpoint[]): Promise<ReceiverSummary[]> {
  const all = await repo.list("webhookOutbox");
  return endpoints.map((ep) => {
    const states = all.map((r) => r.deliveries[ep.id]?.state).filter((x): x is Delivery["state"] => x !== undefined);
    return {
      id: ep.id,
      url: redactUrl(ep.url),
      pending: states.filter((s) => s === "pending").length,
      delivered: states.filter((s) => s === "delivered").length,
      failed: states.filter((s) => s === "failed").length,
    };
  });
}

/** The messages, newest first, those with a delivery in `state` when it is given, at most `limit`. */
export async function messages(repo: Repository<WebhookTables>, o: { state?: Delivery["state"]; limit: number }): Promise<OutboxRecord[]> {
  const all = (await repo.list("webhookOutbox")).sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return all.filter((r) => !o.state || Object.values(r.deliveries).some((d) => d.state === o.state)).slice(0, o.limit);
}

/**
 * Make message `id` due again, now, for every receiver configured (a receiver added since gets
 * it too). Returns the record as written, or undefined when there is no such message.
 */
export async function redeliver(repo: Repository<WebhookTables>, id: string, endpoints: readonly Endpoint[], now: number): Promise<OutboxRecord | undefined> {
  const r = await repo.get("webhookOutbox", id);
  if (!r) return undefined;
  const deliveries: Record<string, Delivery> = { ...r.deliveries };
  for (const ep of endpoints) deliveries[ep.id] = { state: "pending", attempts: r.deliveries[ep.id]?.attempts ?? 0, nextAt: now };
  const next = { ...r, deliveries };
  await repo.batch([{ table: "webhookOutbox", type: "put", value: next }]);
  return next;
}
