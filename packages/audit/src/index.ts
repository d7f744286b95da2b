/** @tether/audit: the hash-chained audit log. */
export { AUDIT_GENESIS, AUDIT_TABLES, AuditEvent, AuditLog, entryHash } from "./audit.js";
export type { AuditEntry, AuditHead, AuditTables, VerifyResult } from "./audit.js";
