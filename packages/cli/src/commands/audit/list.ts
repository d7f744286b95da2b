/** tether audit: list the audit log. */
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime, str, table } from "../../cli.js";

type Entry = { seq: number; time: number; type: string; actor: string; subject: string; details: string; prev: string; hash: string };

export const auditListCommand: Command = {
  name: "audit",
  summary: "list the hash-chained audit log of security events",
  usage: "tether audit [--since TIME] [--limit N] [--data-dir DIR] [--json]",
  help: `Lists security-relevant events, oldest first: codes minted, handshakes refused
(with the reason, never a secret), requests created, approved and rejected,
certificates issued, revocations, and jobs dispatched. Each entry carries the
SHA-256 of the one before it; check the chain with: tether audit verify

  --since TIME   ISO 8601 time (e.g. 2026-11-23T10:00:00Z) to start from
  --limit N      only the last N entries`,
  options: { ...DATA_DIR_OPTION, since: { type: "string" }, limit: { type: "string" } },
  async run({ values, io }) {
    const sinceText = str(values.since);
    const since = sinceText ? Date.parse(sinceText) : 0;
    if (sinceText && Number.isNaN(since)) throw new CliError(Exit.Usage, "--since must be an ISO 8601 time, e.g. 2026-11-23T10:00:00Z");
    const limitText = str(values.limit);
    if (limitText !== undefined && !/^[1-9]\d{0,5}$/.test(limitText)) throw new CliError(Exit.Usage, "--limit must be a positive whole number");
    const { entries } = await admin<{ entries: Entry[] }>(await dataDirOf(values, io.env), "ListAudit", { since, limit: limitText ? Number(limitText) : 0 });
    const rows = entries.map((e) => ({ ...e, time: isoTime(e.time), details: JSON.parse(e.details) as object }));
    emit(io, Boolean(values.json), rows, () =>
      rows.length === 0
        ? "no audit entries\n"
        : table(["SEQ", "TIME", "EVENT", "ACTOR", "SUBJECT", "DETAILS"], rows.map((e) => [String(e.seq), e.time, e.type, e.actor, e.subject, JSON.stringify(e.details)])),
    );
    return Exit.Ok;
  },
};
