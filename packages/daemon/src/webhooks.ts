/**
 * The daemon's webhooks (docs/webhooks.md): the receivers and the signing secret from the
 * configuration, the outbox records each batch adds (AuditLog's `alongside`, so an event is
 * written with its change, atomically), and the sender, which delivers off every request's
 * path and is told of each new event.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { Logger, Op, Repository } from "@tether/base";
import { OutboxIds, WebhookSender, endpoint, eventsOf, outboxRecords, parseSecret, watchEvents, watchIntervalMs } from "@tether/webhooks";
import type { Endpoint, WatchMark, Watched, WebhookTables } from "@tether/webhooks";
import type { AuditEntry } from "@tether/audit";
import type { DaemonConfig } from "./config.js";
import { DaemonError, describe } from "./errors.js";

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
  /** messages made due again outside a batch of the audit log (redeliver) */
  track(ids: readonly string[]): void;
  stop(): Promise<void>;
  /**
   * Start looking for the events time makes (device.offline, certificate.expiring; watch.ts)
   * among `devices`, each pass writing the due ones with their marks in one batch. Returns the
   * pass timer (the daemon stops it with its other background timers).
   */
  watch(devices: () => Iterable<Watched>): NodeJS.Timeout;
};

/** The webhooks of `config`, or undefined when none are configured. */
export function openWebhooks(config: Config | undefined, repo: Repository<WebhookTables>, o: { now: () => number; log: Logger; nodeCertLifetimeMs: number }): Webhooks | undefined {
  if (!config) return undefined;
  const key = readWebhookSecret(config.secretFile);
  const endpoints: Endpoint[] = config.urls.map(endpoint);
  const ids = new OutboxIds((n) => new Uint8Array(randomBytes(n)));
  const sender = new WebhookSender({ repo, endpoints, key, now: o.now, random: Math.random, log: o.log, retry: { retryForMs: config.retryForMs } });
  return {
    endpoints,
    alongside: (ops, entries) => {
      const records = outboxRecords(eventsOf(ops as Parameters<typeof eventsOf>[0], entries), endpoints, o.now(), ids);
      // Named before the batch commits: the sender reads each once it is there (sender.ts, track).
      sender.track(records.map((r) => r.id));
      return records.map((value) => ({ table: "webhookOutbox", type: "put", value }));
    },
    start: () => sender.start(),
    kick: () => sender.kick(),
    track: (ids) => sender.track(ids),
    stop: () => sender.stop(),
    watch: (devices) => {
      // Absent --webhook-expiring-before: a quarter of the lifetime left, when a node that renews
      // at half of it is a quarter of a lifetime late.
      const policy = { offlineAfterMs: config.offlineAfterMs, expiringBeforeMs: config.expiringBeforeMs ?? Math.floor(o.nodeCertLifetimeMs / 4) };
      let marks: Map<string, WatchMark> | undefined;
      let running = false;
      const pass = async () => {
        if (running) return;
        running = true;
        try {
          marks ??= new Map((await repo.list("webhookWatch")).map((m) => [m.id, m]));
          const now = o.now();
          const due = watchEvents(devices(), marks, now, policy);
          if (!due.events.length) return;
          const records = outboxRecords(due.events, endpoints, now, ids);
          await repo.batch([
            ...records.map((value) => ({ table: "webhookOutbox" as const, type: "put" as const, value })),
            ...due.marks.map((value) => ({ table: "webhookWatch" as const, type: "put" as const, value })),
          ]);
          for (const m of due.marks) marks.set(m.id, m);
          sender.track(records.map((r) => r.id));
          sender.kick();
        } catch (err) {
          o.log.error("webhook watch failed", { error: describe(err) });
        } finally {
          running = false;
        }
      };
      const t = setInterval(() => void pass(), watchIntervalMs(policy));
      t.unref();
      return t;
    },
  };
}
