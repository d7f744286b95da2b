/**
 * The daemon's webhooks (docs/webhooks.md): the receivers and the signing secret from the
 * configuration, the outbox records each batch adds (AuditLog's `alongside`, so an event is
 * written with its change, atomically), and the sender, which delivers off every request's
 * path and is told of each new event.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { Logger, Op, Repository } from "@tether/base";
import { OutboxIds, WebhookSender, endpoint, eventsOf, outboxRecords, parseSecret } from "@tether/webhooks";
import type { Endpoint, WebhookTables } from "@tether/webhooks";
import type { AuditEntry } from "@tether/audit";
import type { DaemonConfig } from "./config.js";
import { DaemonError } from "./errors.js";

type Config = NonNullable<DaemonConfig["webhooks"]>;

/**
 * The secret in `file`: refused when the file is readable by group or others (it signs every
 * message), missing, or not `whsec_` and base64 of at least 16 bytes. The message never holds it.
 * @throws DaemonError BAD_WEBHOOK_SECRET
 */
export function readWebhookSecret(file: string) {
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new DaemonError("BAD_WEBHOOK_SECRET", `cannot read the webhook secret file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if ((mode & 0o077) !== 0) {
    throw new DaemonError(
      "BAD_WEBHOOK_SECRET",
      `the webhook secret file ${file} is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, "0")}): it must be 0600 (chmod 600 ${file}), since it signs every message`,
    );
  }
  try {
    return parseSecret(text);
  } catch (err) {
    throw new DaemonError("BAD_WEBHOOK_SECRET", `${file}: ${(err as Error).message}`, { cause: err });
  }
}

export type Webhooks = {
  readonly endpoints: readonly Endpoint[];
  /** AuditLog's `alongside`: the outbox records of one batch */
  alongside: (ops: readonly { table: string; type: "put" | "del" }[], entries: readonly AuditEntry[]) => Op<WebhookTables>[];
  start(): void;
  kick(): void;
  stop(): Promise<void>;
};

/** The webhooks of `config`, or undefined when none are configured. */
export function openWebhooks(config: Config | undefined, repo: Repository<WebhookTables>, o: { now: () => number; log: Logger }): Webhooks | undefined {
  if (!config) return undefined;
  const key = readWebhookSecret(config.secretFile);
  const endpoints: Endpoint[] = config.urls.map(endpoint);
  const ids = new OutboxIds((n) => new Uint8Array(randomBytes(n)));
  const sender = new WebhookSender({ repo, endpoints, key, now: o.now, random: Math.random, log: o.log, retry: { retryForMs: config.retryForMs } });
  return {
    endpoints,
    alongside: (ops, entries) =>
      outboxRecords(eventsOf(ops as Parameters<typeof eventsOf>[0], entries), endpoints, o.now(), ids).map((value) => ({ table: "webhookOutbox", type: "put", value })),
    start: () => sender.start(),
    kick: () => sender.kick(),
    stop: () => sender.stop(),
  };
}
