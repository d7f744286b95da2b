/** @tether/jobs: the persistent job queue. Depends on interfaces only. */
export { JobError } from "./errors.js";
export type { JobErrorCode } from "./errors.js";
export {
  DEFAULT_JOB_TIMEOUT_MS,
  MAX_IN_FLIGHT_PER_DEVICE,
  MAX_JOB_INPUT_BYTES,
  MAX_JOB_OUTPUT_BYTES,
  MAX_JOB_TIMEOUT_MS,
  MAX_QUEUED_PER_DEVICE,
  MAX_FANOUT_DEVICES,
  resolveJobConfig,
} from "./config.js";
export type { JobConfig } from "./config.js";
export { JobManager, isFinal } from "./manager.js";
export type { CanSee, Clock, DispatchInput, Ignored, ResultInput, Timers } from "./manager.js";
export { FINAL_STATES, JOB_TABLES, JobState } from "./records.js";
export type { FanoutRecord, IdempotencyRecord, JobOp, JobRecord, JobRepository, JobTables, NodeDirectory } from "./records.js";
