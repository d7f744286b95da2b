/** tether webhooks list | deliveries | redeliver: the daemon's webhook receivers and outbox (docs/webhooks.md). */
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime, str, table } from "../../cli.js";

type Receiver = { id: string; url: string; pending: number; delivered: number; failed: number };
type Delivery = { receiver: string; state: string; attempts: number; nextAt: number; lastStatus: number; lastError: string; doneAt: number };
type Message = { id: string; type: string; createdAt: number; deliveries: Delivery[] };

const time = (ms: number) => (ms ? isoTime(ms) : "-");

export const webhooksListCommand: Command = {
  name: "webhooks list",
  summary: "the webhook receivers, with how many messages each has pending, delivered and failed",
  args: [],
  help: `Lists the receivers the daemon sends its webhook events to (tether daemon
--webhook URL), each with an id (ep_…, the same for one URL across restarts), its
URL with any password replaced by ***, and its messages: pending (not yet taken),
delivered, and failed (given up on after --webhook-retry-for). None configured:
an empty list.`,
  examples: ["tether webhooks list", "tether webhooks list --json"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const r = await admin<{ receivers: Receiver[] }>(await dataDirOf(values, io.env), "ListWebhooks", {});
    emit(io, Boolean(values.json), r.receivers, () =>
      r.receivers.length
        ? table(
            ["ID", "URL", "PENDING", "DELIVERED", "FAILED"],
            r.receivers.map((x) => [x.id, x.url, String(x.pending), String(x.delivered), String(x.failed)]),
          )
        : "no webhook receivers (tether daemon --webhook URL --webhook-secret-file FILE)\n",
    );
    return Exit.Ok;
  },
};

export const webhooksDeliveriesCommand: Command = {
  name: "webhooks deliveries",
  summary: "the webhook messages, newest first, with each receiver's delivery state",
  args: [],
  help: `Lists the messages of the daemon's webhook outbox, newest first: the message
id (the webhook-id receivers see), the event, when it happened, and for each
receiver its state (pending, delivered or failed), attempts, the receiver's last
HTTP status (0: it did not answer) and when the next attempt is due. Delivered and
failed messages are kept 7 days.`,
  examples: ["tether webhooks deliveries", "tether webhooks deliveries --state failed --json"],
  options: {
    state: { type: "string", choices: ["pending", "delivered", "failed"], about: "only messages with a delivery in this state" },
    limit: { type: "string", value: "N", about: "at most N messages, 1..1000", default: "100" },
    ...DATA_DIR_OPTION,
  },
  async run({ values, io }) {
    const limitText = str(values.limit);
    if (limitText !== undefined && !(/^\d+$/.test(limitText) && Number(limitText) >= 1 && Number(limitText) <= 1000)) {
      throw new CliError(Exit.Usage, "--limit must be a whole number from 1 to 1000");
    }
    const r = await admin<{ messages: Message[] }>(await dataDirOf(values, io.env), "ListWebhookDeliveries", {
      state: str(values.state) ?? "",
      limit: limitText ? Number(limitText) : 0,
    });
    const rows = r.messages.flatMap((m) =>
      m.deliveries.map((d) => [
        m.id,
        m.type,
        time(m.createdAt),
        d.receiver,
        d.state,
        String(d.attempts),
        d.lastStatus ? String(d.lastStatus) : d.lastError ? d.lastError : "-",
        d.state === "pending" ? time(d.nextAt) : time(d.doneAt),
      ]),
    );
    emit(io, Boolean(values.json), r.messages, () =>
      rows.length ? table(["MESSAGE", "EVENT", "AT", "RECEIVER", "STATE", "ATTEMPTS", "LAST", "NEXT/DONE"], rows) : "no webhook messages\n",
    );
    return Exit.Ok;
  },
};

export const webhooksRedeliverCommand: Command = {
  name: "webhooks redeliver",
  summary: "send a webhook message again, now, to every receiver",
  args: [{ name: "MESSAGE", about: "the message id (msg_…, from tether webhooks deliveries)" }],
  help: `Makes message MESSAGE due again, now, for every receiver configured, whatever
its state (a failed one, or one a receiver lost). It keeps its id, so a receiver
that had it can tell. Exit 4 when there is no such message, 5 when no receiver is
configured.`,
  examples: ["tether webhooks redeliver msg_0mip7w2k300000a1b2c3d4e5f6"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const m = await admin<Message>(await dataDirOf(values, io.env), "RedeliverWebhook", { id });
    emit(io, Boolean(values.json), m, () => `${m.id} (${m.type}) will be sent again to ${m.deliveries.length} receiver(s)\n`);
    return Exit.Ok;
  },
};
