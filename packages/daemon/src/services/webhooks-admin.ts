/**
 * The Admin service's webhook methods (tether webhooks list|deliveries|redeliver;
 * docs/webhooks.md): the receivers with their counts, the outbox's messages newest first, and a
 * message made due again for every receiver.
 */
import { status } from "@grpc/grpc-js";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Repository } from "@tether/base";
import { MAX_DELIVERIES_LIMIT, messages, receivers, redeliver } from "@tether/webhooks";
import type { Delivery, OutboxRecord, WebhookTables } from "@tether/webhooks";
import type { Logger } from "../log.js";
import { DaemonError } from "../errors.js";
import type { Webhooks } from "../webhooks.js";
import { unaryOn } from "./rpc.js";

const unary = unaryOn("admin-socket");
const STATES = ["pending", "delivered", "failed"] as const;
const MESSAGE_ID = /^msg_[0-9a-z]{14}[0-9a-f]{12}$/;

function toWire(r: OutboxRecord) {
  return {
    id: r.id,
    type: r.type,
    createdAt: r.createdAt,
    deliveries: Object.entries(r.deliveries).map(([receiver, d]) => ({
      receiver,
      state: d.state,
      attempts: d.attempts,
      nextAt: d.state === "pending" ? d.nextAt : 0,
      lastStatus: d.lastStatus ?? 0,
      lastError: d.lastError ?? "",
      doneAt: d.doneAt ?? 0,
    })),
  };
}

export function webhooksAdmin(repo: Repository<WebhookTables>, webhooks: Webhooks | undefined, o: { now: () => number; log: Logger }): UntypedServiceImplementation {
  const endpoints = webhooks?.endpoints ?? [];
  return {
    ListWebhooks: unary<object, object>(o.log, "Admin.ListWebhooks", async () => ({ receivers: await receivers(repo, endpoints) })),
    ListWebhookDeliveries: unary<{ state: string; limit: number }, object>(o.log, "Admin.ListWebhookDeliveries", async (req) => {
      if (req.state && !(STATES as readonly string[]).includes(req.state))
        throw new DaemonError("INVALID_ARGUMENT", `state must be ${STATES.join(", ")} or empty, got ${JSON.stringify(req.state.slice(0, 40))}`, {
          status: status.INVALID_ARGUMENT,
        });
      if (req.limit > MAX_DELIVERIES_LIMIT) throw new DaemonError("INVALID_ARGUMENT", `limit must be at most ${MAX_DELIVERIES_LIMIT}`, { status: status.INVALID_ARGUMENT });
      const list = await messages(repo, { ...(req.state ? { state: req.state as Delivery["state"] } : {}), limit: req.limit || 100 });
      return { messages: list.map(toWire) };
    }),
    RedeliverWebhook: unary<{ id: string }, object>(o.log, "Admin.RedeliverWebhook", async (req) => {
      if (!MESSAGE_ID.test(req.id))
        throw new DaemonError("INVALID_ARGUMENT", "id must be a message id as tether webhooks deliveries shows it (msg_ and 26 characters)", { status: status.INVALID_ARGUMENT });
      if (!webhooks)
        throw new DaemonError("WEBHOOKS_OFF", "no webhook receivers are configured (tether daemon --webhook URL): there is nobody to send it to", {
          status: status.FAILED_PRECONDITION,
        });
      const r = await redeliver(repo, req.id, endpoints, o.now());
      if (!r) throw new DaemonError("MESSAGE_NOT_FOUND", `no webhook message ${req.id} (delivered and failed ones are kept 7 days)`, { status: status.NOT_FOUND });
      o.log.info("webhook message to be sent again", { message: r.id, event: r.type, receivers: endpoints.length });
      webhooks.track([r.id]);
      webhooks.kick();
      return toWire(r);
    }),
  };
}
