/** Job records and what the job manager needs from storage and from the node registry. */
import type { Op, Repository } from "@tether/base";

export const JobState = {
  Queued: "queued",
  Delivered: "delivered",
  Running: "running",
  Succeeded: "succeeded",
  Failed: "failed",
  TimedOut: "timed_out",
  Cancelled: "cancelled",
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];

export const FINAL_STATES: ReadonlySet<string> = new Set([JobState.Succeeded, JobState.Failed, JobState.TimedOut, JobState.Cancelled]);

export type JobRecord = {
  id: string;
  deviceId: string;
  capability: string;
  state: JobState;
  input: string; // JSON text
  output?: string; // JSON text
  error?: string;
  createdAt: number;
  deadline: number;
  updatedAt: number;
  attempts: number; // deliveries so far
  idempotencyKey?: string;
  /**
   * Who dispatched it, and so its owner: the orchestrator's device id, or "admin" for the
   * admin socket (docs/fleet.md 6.1). Recorded on every job since the first job store.
   */
  dispatchedBy: string;
  /** the fan-out (DispatchMany) that created it, if one did */
  fanoutId?: string;
};

/**
 * One fan-out: a job per matching device, created in one atomic batch. `skipped` are the
 * matching devices that got none, with why (a full queue, for instance).
 */
export type FanoutRecord = {
  id: string;
  capability: string;
  /** the selector as given (for people: tether jobs list --fanout) */
  selector: string;
  dispatchedBy: string;
  createdAt: number;
  jobs: number;
  /** its jobs' ids, in the order of the devices (one record, not a row per job: a fan-out is one write of few rows) */
  jobIds: string[];
  /** the first 100 skipped; `skippedCount` when there were more */
  skipped: { deviceId: string; code: string; reason: string }[];
  skippedCount?: number;
  idempotencyKey?: string;
};

/** Maps (dispatcher, idempotency key) to the job it created (or, for a fan-out, to the fan-out's id). */
export type IdempotencyRecord = { id: string; jobId: string; createdAt: number };

/** One unfinished job (its id): a start reads these instead of every job ever dispatched. */
export type OpenJobRecord = { id: string };

/** `${deviceId}/${jobId}`: a device's jobs in creation order (job ids sort by creation time). */
export type DeviceJobRecord = { id: string; jobId: string };

/** `${dispatchedBy}/${jobId}`: a dispatcher's jobs in creation order, so it lists its own without reading others'. */
export type OwnerJobRecord = { id: string; jobId: string };

/** Bookkeeping, e.g. { id: "openIndex", at } once the open-job index covers every job (and "ownerIndex" likewise). */
export type JobMetaRecord = { id: string; at: number };

export type JobTables = {
  jobs: JobRecord;
  idempotency: IdempotencyRecord;
  openJobs: OpenJobRecord;
  deviceJobs: DeviceJobRecord;
  ownerJobs: OwnerJobRecord;
  jobsMeta: JobMetaRecord;
  fanouts: FanoutRecord;
};
export const JOB_TABLES = ["jobs", "idempotency", "openJobs", "deviceJobs", "ownerJobs", "jobsMeta", "fanouts"] as const;

export type JobOp = Op<JobTables>;
export type JobRepository = Repository<JobTables>;

/** What the job manager asks about a device before accepting work for it. */
export interface NodeDirectory {
  describe(deviceId: string): { exists: boolean; revoked: boolean; capabilities: readonly string[] } | undefined;
  /**
   * How many jobs the device's registered stream takes at once, 0 when it has none. With it,
   * a job for a device that has room is written as delivered in its dispatch batch and handed
   * out at once ("deliver" event), instead of being queued, written again, then claimed.
   */
  concurrency?(deviceId: string): number;
}
