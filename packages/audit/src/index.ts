/** @tether/audit: the hash-chained audit log, and the audited repository the core packages write through. */
export { AUDIT_GENESIS, AUDIT_TABLES, AuditEvent, AuditLog, entryHash } from "./audit.js";
export type { AuditEntry, AuditHead, AuditTables, AuditTrail, HeadCheck, VerifyResult } from "./audit.js";
