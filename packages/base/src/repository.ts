/**
 * The storage contract the core packages program against: tables of JSON records keyed by
 * `id`, read one at a time or listed, and written in atomic batches. @tether/store implements
 * it on LevelDB; the core packages never import the store itself.
 *
 * A batch may also carry audit events (what changed, who did it), which an audited repository
 * (@tether/audit) appends to its hash chain in the same atomic write as the change they record:
 * after a crash there is either the change and its audit entry, or neither.
 */

/** A schema: table name -> record type. */
export type Schema = Record<string, { id: string }>;

/** One write in an atomic batch. */
export type Op<S extends Schema> = { [T in keyof S & string]: { table: T; type: "put"; value: S[T] } }[keyof S & string] | { table: keyof S & string; type: "del"; key: string };

/** The security-relevant events tether records (docs/operations.md, the audit log). */
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
  JobsFannedOut: "jobs.fanned_out",
  LabelsChanged: "device.labels_changed",
  JobScopeChanged: "device.job_scope_changed",
  Preauthorized: "preauthorization.created",
  PreauthorizationRevoked: "preauthorization.revoked",
  RotationRequested: "device.rotation_requested",
  DaemonCertificatesRotated: "daemon.certificates_rotated",
  StoreRepaired: "store.repaired",
  DeviceReturned: "device.returned",
  ReturnPolicyChanged: "device.return_policy_changed",
} as const;
export type AuditEvent = (typeof AuditEvent)[keyof typeof AuditEvent];

/** An audit event carried by a batch. Details never hold secrets. */
export type AuditRecord = {
  type: AuditEvent;
  /** "admin", a device id, "preauthorization", or "anonymous" for unauthenticated pairing calls */
  actor: string;
  /** what it is about: a code, request, device or job id */
  subject: string;
  details?: Record<string, string | number | boolean>;
};

/**
 * A compare-and-set condition of a batch: the record `table`/`id` must be, when the batch is
 * committed, exactly `value` (compared as JSON text, JSON.stringify's, so as the caller read
 * it), or absent when `value` is undefined.
 */
export type Expectation = { table: string; id: string; value: { id: string } | undefined };

export type BatchOptions = {
  /** default true: fsynced before the batch resolves */
  sync?: boolean;
  /** audit events written atomically with the batch (needs an audited repository) */
  audit?: readonly AuditRecord[];
  /**
   * Compare-and-set: the batch is applied only if every expectation holds at its commit;
   * otherwise it is rejected with a CONFLICT error (isConflict; `conflicts` names the records
   * that differed) and nothing of it is written. Other callers' batches committed in the same
   * group are not affected. Across processes on one database this is what makes a decision
   * taken from a record read earlier safe: the loser re-reads and decides again.
   */
  expect?: readonly Expectation[];
};

/** The records whose expectations did not hold, on a CONFLICT error. */
export type Conflict = { table: string; id: string };

/** Whether a store refused a batch because an expectation did not hold (BatchOptions.expect). */
export function isConflict(err: unknown): err is Error & { code: "CONFLICT"; conflicts: readonly Conflict[] } {
  return err instanceof Error && (err as { code?: unknown }).code === "CONFLICT";
}

/** The JSON text an expectation compares (undefined: the record must be absent). */
export function expectedText(e: Expectation): string | undefined {
  return e.value === undefined ? undefined : JSON.stringify(e.value);
}

/** A key range of one table: ids compare as strings (UTF-8 byte order). */
export type ScanOptions = { gte?: string; gt?: string; lt?: string; lte?: string; reverse?: boolean; limit?: number };

export interface Repository<S extends Schema> {
  /**
   * True when no other process can write this store while it is open: the LevelDB store (its
   * directory's lock), a PostgreSQL store holding the writer lock (its writes fenced by the
   * writer epoch). A writer may then skip the expectations that only guard against other
   * processes (the audit log's head), which saves a read per commit.
   */
  readonly singleWriter?: boolean;
  get<T extends keyof S & string>(table: T, id: string): Promise<S[T] | undefined>;
  /** Every record of a table, in id order. Only for tables that stay small. */
  list<T extends keyof S & string>(table: T): Promise<S[T][]>;
  /** Records in id order (or reverse) within a range, at most `limit`. */
  scan<T extends keyof S & string>(table: T, o?: ScanOptions): Promise<S[T][]>;
  /**
   * Atomic. Durable (fsynced) before it resolves unless `sync: false`, which still survives a
   * process crash but may be lost in an OS crash or power loss. A repository that cannot
   * record `audit` events refuses a batch that carries some, so none is dropped silently.
   * With `expect`, applied only if every expectation holds (else CONFLICT, nothing written).
   */
  batch(ops: readonly Op<S>[], options?: BatchOptions): Promise<void>;
}
