/** tether audit: list the audit log. */
import type { Command } from "../../cli.js";
import { visible } from "@tether/base";
import { DATA_DIR_OPTION, Exit, OUTPUT_OPTION, admin, dataDirOf, emit, isoTime, str, table, usageError } from "../../cli.js";

type Entry = { seq: number; time: number; type: string; actor: string; subject: string; details: string; prev: string; hash: string };

/** Details for the terminal: times (fields named …At, in ms since the epoch) as RFC 3339; --json keeps the numbers. */
export function humanDetails(details: object): string {
  return JSON.stringify(details, (k, v: unknown) => (/At$/.test(k) && typeof v === "number" && Number.isInteger(v) && v > 0 ? isoTime(v) : v));
}

export const auditListCommand: Command = {
  name: "audit",
  summary: "list the hash-chained audit log of security events",
  args: [],
  help: `Lists security-relevant events, oldest first: codes minted, handshakes refused
(with the reason, never a secret), requests created, approved and rejected,
certificates issued, revocations, and jobs dispatched. Each entry carries the
SHA-256 of the one before it; check the chain with: tether audit verify
-o wide adds each entry's hash and the hash of the one before it.

Repeated refusals of unauthenticated pairing calls are recorded as one
handshake.failed entry per address, call and error code each minute, with
"count", "firstAt" and "lastAt" in its details. The daemon answers in pages
(at most 1000 entries and 4 MiB each); this command follows them.`,
  examples: ["tether audit --since 2026-11-23T10:00:00Z", "tether audit --limit 50 --json"],
  options: {
    since: { type: "string", value: "TIME", about: "start from this ISO 8601 time, e.g. 2026-11-23T10:00:00Z", default: "the first entry" },
    limit: { type: "string", value: "N", about: "only the last N entries", default: "every entry" },
    ...OUTPUT_OPTION,
    ...DATA_DIR_OPTION,
  },
  async run({ values, io }) {
    const sinceText = str(values.since);
    const since = sinceText ? Date.parse(sinceText) : 0;
    if (sinceText && Number.isNaN(since)) throw usageError(this, "--since must be an ISO 8601 time, e.g. 2026-11-23T10:00:00Z");
    const limitText = str(values.limit);
    if (limitText !== undefined && !/^[1-9]\d{0,5}$/.test(limitText)) throw usageError(this, "--limit must be a positive whole number");
    const dataDir = await dataDirOf(values, io.env);
    // Pages come newest first, each oldest first: collect them backwards until enough.
    const want = limitText ? Number(limitText) : Infinity;
    const pages: Entry[][] = [];
    let got = 0;
    for (let before = 0; ;) {
      const page = await admin<{ entries: Entry[]; nextBefore: number }>(dataDir, "ListAudit", { since, limit: Number.isFinite(want) ? want - got : 0, before });
      const fresh = page.entries.slice(-(want - got));
      pages.unshift(fresh);
      got += fresh.length;
      // a daemon that does not page answers nextBefore 0; one that would not move on ends it too
      if (got >= want || !page.nextBefore || (before && page.nextBefore >= before)) break;
      before = page.nextBefore;
    }
    const rows = pages.flat().map((e) => ({ ...e, time: isoTime(e.time), details: JSON.parse(e.details) as object }));
    emit(io, Boolean(values.json), rows, () =>
      rows.length === 0
        ? "no audit entries\n"
        : table(
            ["SEQ", "TIME", "EVENT", "ACTOR", "SUBJECT", "DETAILS", ...(values.output === "wide" ? ["PREV", "HASH"] : [])],
            rows.map((e) => [
              String(e.seq),
              e.time,
              visible(e.type),
              visible(e.actor),
              visible(e.subject),
              visible(humanDetails(e.details)),
              ...(values.output === "wide" ? [e.prev, e.hash] : []),
            ]),
          ),
    );
    return Exit.Ok;
  },
};
