/**
 * The audit log: security-relevant events appended to the store, each entry hash-chained to
 * the one before, so that changing, removing or reordering an entry is detected by verify().
 * The head (last sequence number and hash) is written in the same batch as each entry.
 * Storage and the clock are injected.
 */
import { Mutex } from "@tether/base";
import type { Op, Repository } from "@tether/base";
import { sha256Hex, transcript, u64be } from "@tether/crypto";

export const AUDIT_GENESIS = "0".repeat(64);

export const AuditEvent = {
  CodeMinted: "code.minted",
  HandshakeFailed: "handshake.failed",
  RequestCreated: "request.created",
  RequestApproved: "request.approved",
  RequestRejected: "request.rejected",
  CertificateIssued: "certificate.issued",
  CertificateRenewed: "certificate.renewed",
  DeviceRevoked: "device.revoked",
  RevocationCleared: "device.revocation_cleared",
  JobDispatched: "job.dispatched",
  LabelsChanged: "device.labels_changed",
  Preauthorized: "preauthorization.created",
  PreauthorizationRevoked: "preauthorization.revoked",
} as const;
export type AuditEvent = (typeof AuditEvent)[keyof typeof AuditEvent];

export type AuditEntry = {
  id: string; // the sequence number, zero-padded to 16 digits so keys sort in order
  seq: number;
  time: number;
  type: string;
  actor: string; // "admin", a device id, or "anonymous" for unauthenticated pairing calls
  subject: string; // what it is about: a code, request, device or job id
  details: Record<string, string | number | boolean>;
  prev: string; // hash of the previous entry (AUDIT_GENESIS for the first)
  hash: string;
};
export type AuditHead = { id: "head"; seq: number; hash: string };
export type AuditTables = { audit: AuditEntry; auditHead: AuditHead };
export const AUDIT_TABLES = ["audit", "auditHead"] as const;

/** hash = SHA-256(transcript("tether/audit/v1", [seq, time, type, actor, subject, details JSON, prev])) */
export function entryHash(e: Omit<AuditEntry, "id" | "hash">): string {
  const details = JSON.stringify(Object.fromEntries(Object.entries(e.details).sort(([a], [b]) => (a < b ? -1 : 1))));
  return sha256Hex(transcript("tether/audit/v1", [u64be(e.seq), u64be(e.time), e.type, e.actor, e.subject, details, e.prev]));
}

export type VerifyResult =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; brokenAt: number; reason: string };

export class AuditLog {
  readonly #repo: Repository<AuditTables>;
  readonly #now: () => number;
  readonly #mutex = new Mutex();

  constructor(repo: Repository<AuditTables>, now: () => number) {
    this.#repo = repo;
    this.#now = now;
  }

  /** Append one event, durably, chained to the current head. */
  async append(type: string, actor: string, subject: string, details: AuditEntry["details"] = {}): Promise<AuditEntry> {
    return this.#mutex.run(async () => {
      const head = (await this.#repo.get("auditHead", "head")) ?? { id: "head" as const, seq: 0, hash: AUDIT_GENESIS };
      const base = { seq: head.seq + 1, time: this.#now(), type, actor, subject, details, prev: head.hash };
      const entry: AuditEntry = { id: String(base.seq).padStart(16, "0"), ...base, hash: entryHash(base) };
      const ops: Op<AuditTables>[] = [
        { table: "audit", type: "put", value: entry },
        { table: "auditHead", type: "put", value: { id: "head", seq: entry.seq, hash: entry.hash } },
      ];
      await this.#repo.batch(ops);
      return entry;
    });
  }

  /** Entries in order, optionally from a time on. */
  async list(o: { since?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    const all = (await this.#repo.list("audit")).sort((a, b) => a.seq - b.seq);
    const from = all.filter((e) => !o.since || e.time >= o.since);
    return o.limit ? from.slice(-o.limit) : from;
  }

  /** Walk the chain from the first entry and say where, if anywhere, it breaks. */
  async verify(): Promise<VerifyResult> {
    const all = (await this.#repo.list("audit")).sort((a, b) => a.seq - b.seq);
    let prev = AUDIT_GENESIS;
    for (let i = 0; i < all.length; i++) {
      const e = all[i] as AuditEntry;
      const bad = (reason: string): VerifyResult => ({ ok: false, entries: all.length, brokenAt: e.seq, reason });
      if (e.seq !== i + 1) return bad(`entry ${i + 1} is missing (found ${e.seq} in its place)`);
      if (e.prev !== prev) return bad(`entry ${e.seq} does not link to entry ${e.seq - 1}`);
      if (entryHash(e) !== e.hash) return bad(`entry ${e.seq} was changed after it was written`);
      prev = e.hash;
    }
    const head = await this.#repo.get("auditHead", "head");
    if ((head?.seq ?? 0) !== all.length || (head?.hash ?? AUDIT_GENESIS) !== prev) {
      return { ok: false, entries: all.length, brokenAt: all.length + 1, reason: `the head names entry ${head?.seq ?? 0} but the log ends at ${all.length}: entries were removed` };
    }
    return { ok: true, entries: all.length, head: prev };
  }
}
