/**
 * npm run bench -- --only webhooks: what one delivery pass of the webhook sender costs when
 * the outbox holds a week of delivered messages (kept 7 days for `tether webhooks deliveries`):
 * each pass delivers the one new message it was told of, on a real LevelDB store, to a real
 * receiver on loopback. Baseline, in the same run: the same pass reading the whole outbox, as
 * every pass did before the sender held its pending messages (and as it still does once a
 * minute, RESCAN_MS): forced by a clock a minute ahead at each pass.
 */
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { AuditEvent } from "@tether/base";
import type { Repository } from "@tether/base";
import { AUDIT_TABLES, AuditLog } from "@tether/audit";
import type { AuditTables } from "@tether/audit";
import { Store } from "@tether/store";
import { OutboxIds, RESCAN_MS, WEBHOOK_TABLES, WebhookSender, endpoint, eventsOf, outboxRecords, parseSecret } from "@tether/webhooks";
import type { OutboxRecord, WebhookTables } from "@tether/webhooks";
import type { Bench, BenchContext, BenchResult } from "./harness.ts";
import { monoMs, repsOf, row } from "./harness.ts";

const KEPT = Number(process.env.BENCH_WEBHOOK_KEPT ?? 20_000);
const PASSES = 30;
type Tables = AuditTables & WebhookTables;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

export const bench: Bench = {
  name: "webhooks",
  summary: "one sender pass delivering one new message, with a week of delivered messages kept: told of it vs reading the whole outbox",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const reps = repsOf(ctx, 3);
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200).end());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const ep = endpoint(`http://127.0.0.1:${(server.address() as { port: number }).port}/hook`);
    const key = parseSecret(`whsec_${randomBytes(24).toString("base64")}`);
    const ids = new OutboxIds((n) => new Uint8Array(randomBytes(n)));
    const store = await Store.open<Tables>(ctx.tmp("tether-bench-wh-"), [...AUDIT_TABLES, ...WEBHOOK_TABLES]);
    let tracked: string[] = [];
    const audit = new AuditLog<Tables>(store, Date.now, {
      alongside: (ops, entries) => {
        const recs = outboxRecords(eventsOf(ops as never, entries), [ep], Date.now(), ids);
        tracked.push(...recs.map((r) => r.id));
        return recs.map((value) => ({ table: "webhookOutbox" as const, type: "put" as const, value }));
      },
    });
    try {
      ctx.log(`webhooks: seeding ${KEPT} delivered messages`);
      const now = Date.now();
      for (let i = 0; i < KEPT; i += 1000) {
        const chunk: OutboxRecord[] = outboxRecords(
          Array.from({ length: Math.min(1000, KEPT - i) }, (_, j) => ({ type: "device.revoked" as const, data: { device: `dev_${i + j}`, by: "admin", reason: "bench" } })),
          [ep],
          now,
          ids,
        ).map((r) => ({ ...r, deliveries: { [ep.id]: { state: "delivered", attempts: 1, nextAt: 0, lastStatus: 200, doneAt: now } } }));
        await store.batch(chunk.map((value) => ({ table: "webhookOutbox" as const, type: "put" as const, value })));
      }
      const measure = async (fullRead: boolean): Promise<number> => {
        let ahead = 0;
        const sender = new WebhookSender({
          repo: store as unknown as Repository<WebhookTables>,
          endpoints: [ep],
          key,
          now: () => Date.now() + ahead,
          random: Math.random,
          log: silent,
        });
        await sender.pass(); // the first pass reads everything either way
        const times: number[] = [];
        for (let i = 0; i < PASSES; i++) {
          tracked = [];
          await audit.batch([], { audit: [{ type: AuditEvent.DeviceRevoked, actor: "admin", subject: `dev_new_${i}`, details: {} }] });
          if (fullRead) ahead += RESCAN_MS;
          else sender.track(tracked);
          const t0 = monoMs();
          const sent = await sender.pass();
          times.push(monoMs() - t0);
          if (sent !== 1) throw new Error(`a pass sent ${sent} messages, not 1`);
        }
        await sender.stop();
        times.sort((a, b) => a - b);
        return times[Math.floor(times.length / 2)] as number;
      };
      const told: number[] = [];
      const full: number[] = [];
      for (let r = 0; r < reps; r++) {
        full.push(await measure(true));
        told.push(await measure(false));
        ctx.log(`webhooks: rep ${r + 1}/${reps}: told ${told.at(-1)?.toFixed(2)} ms, whole outbox ${full.at(-1)?.toFixed(2)} ms`);
      }
      return {
        name: "webhooks",
        params: { kept: KEPT, passes: PASSES, reps },
        rows: [row("pass delivering 1 new message (median of the passes)", "ms", told, full, { text: "<= 0.1x", met: (x) => x <= 0.1 })],
        notes: ["tether: the sender was told the new message's id (as the daemon's alongside does); baseline: the same sender reading the whole outbox each pass"],
      };
    } finally {
      await store.close();
      await new Promise((r) => server.close(r));
    }
  },
};
