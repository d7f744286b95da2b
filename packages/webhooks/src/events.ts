/**
 * Which changes are webhook events, and what each says. They are read off the very batch that
 * makes the change (its writes and its audit entries), so that the outbox record goes into the
 * same atomic write (outbox.ts): an event is never sent for a change that did not happen, nor
 * lost for one that did.
 */

export const WEBHOOK_EVENTS = [
  "request.pending",
  "request.approved",
  "request.rejected",
  "request.expired",
  "device.revoked",
  "device.offline",
  "certificate.expiring",
  "certificate.expired",
  "job.failed",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];
export type WebhookEvent = { type: WebhookEventType; data: Record<string, string | number | boolean> };

/** What eventsOf reads: a write of a batch, and an audit entry of it. */
type Write = { table: string; type: "put"; value: unknown } | { table: string; type: "del"; key: string };
type Entry = { type: string; actor: string; subject: string; details: Record<string, string | number | boolean> };

/** The webhook events of one batch, in its order: its audit entries', then its writes'. */
export function eventsOf(writes: readonly Write[], entries: readonly Entry[]): WebhookEvent[] {
  const out: WebhookEvent[] = [];
  for (const e of entries) {
    if (e.type === "request.created") out.push({ type: "request.pending", data: { request: e.subject, device: e.actor, ...e.details } });
    else if (e.type === "request.approved") out.push({ type: "request.approved", data: { request: e.subject, by: e.actor, ...e.details } });
    else if (e.type === "request.rejected") out.push({ type: "request.rejected", data: { request: e.subject, by: e.actor, ...e.details } });
    else if (e.type === "device.revoked") out.push({ type: "device.revoked", data: { device: e.subject, by: e.actor, ...e.details } });
  }
  for (const w of writes) {
    if (w.type !== "put") continue;
    const v = w.value as Record<string, string | undefined>;
    if (w.table === "requests" && v.state === "expired") {
      out.push({ type: "request.expired", data: { request: v.id ?? "", device: v.deviceId ?? "", name: v.name ?? "" } });
    } else if (w.table === "jobs" && (v.state === "failed" || v.state === "timed_out")) {
      out.push({
        type: "job.failed",
        data: { job: v.id ?? "", device: v.deviceId ?? "", capability: v.capability ?? "", state: v.state ?? "", error: (v.error ?? "").slice(0, 1024) },
      });
    }
  }
  return out;
}
