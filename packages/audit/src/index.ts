/** @tether/audit: the hash-chained audit log, and the audited repository the core packages write through. */
export {
  AUDIT_DETAILS_MAX_CHARS,
  AUDIT_DETAILS_MAX_FIELDS,
  AUDIT_DETAIL_KEY_MAX_CHARS,
  AUDIT_GENESIS,
  AUDIT_NAME_MAX_CHARS,
  AUDIT_TABLES,
  GAPS_ACCEPTED_DETAIL,
  MAX_GAPS_ACCEPTED,
  AuditEvent,
  AuditLog,
  capRecord,
  entryHash,
} from "./audit.js";
export type { AcceptedGap, AuditEntry, ChainBreak, AuditHead, AuditTables, AuditTrail, EntriesQuery, HeadCheck, VerifyOptions, VerifyResult } from "./audit.js";
export { AuditCoalescer, COALESCE_OVERFLOW_KEY, DEFAULT_COALESCE_MAX_KEYS, DEFAULT_COALESCE_WINDOW_MS } from "./coalesce.js";
