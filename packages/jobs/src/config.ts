/** Job limits as named constants, resolved once into a frozen config. */
export const DEFAULT_JOB_TIMEOUT_MS = 60_000;
export const MAX_JOB_TIMEOUT_MS = 24 * 60 * 60_000;
export const MAX_JOB_INPUT_BYTES = 1024 * 1024;
export const MAX_JOB_OUTPUT_BYTES = 1024 * 1024;
/** Jobs waiting for one device (queued, not yet delivered). */
export const MAX_QUEUED_PER_DEVICE = 1000;
/** Jobs in flight (delivered or running) on one device, whatever the node asks for. */
export const MAX_IN_FLIGHT_PER_DEVICE = 64;
export const MAX_ERROR_BYTES = 4096;
/** Devices one fan-out (DispatchMany) may address; more is refused before anything is written. */
export const MAX_FANOUT_DEVICES = 10_000;
/** A failure reported this close to the deadline counts as a timeout (node and daemon clocks differ a little). */
export const DEADLINE_GRACE_MS = 1000;
/** Finished jobs are kept this long, then deleted by the retention sweep (docs/fleet.md 3.8). */
export const DEFAULT_FINISHED_RETENTION_MS = 7 * 24 * 60 * 60_000;
/** At most this many finished jobs are deleted per sweep, so a sweep never stalls the daemon. */
export const RETENTION_BATCH = 1000;

export type JobConfig = Readonly<{
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  maxInputBytes: number;
  maxOutputBytes: number;
  maxQueuedPerDevice: number;
  maxInFlightPerDevice: number;
  /** how long finished jobs are kept (0: forever) */
  finishedRetentionMs: number;
  /** devices one fan-out may address */
  maxFanoutDevices: number;
}>;

export function resolveJobConfig(o: Partial<JobConfig> = {}): JobConfig {
  return Object.freeze({
    defaultTimeoutMs: o.defaultTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS,
    maxTimeoutMs: o.maxTimeoutMs ?? MAX_JOB_TIMEOUT_MS,
    maxInputBytes: o.maxInputBytes ?? MAX_JOB_INPUT_BYTES,
    maxOutputBytes: o.maxOutputBytes ?? MAX_JOB_OUTPUT_BYTES,
    maxQueuedPerDevice: o.maxQueuedPerDevice ?? MAX_QUEUED_PER_DEVICE,
    maxInFlightPerDevice: o.maxInFlightPerDevice ?? MAX_IN_FLIGHT_PER_DEVICE,
    finishedRetentionMs: o.finishedRetentionMs ?? DEFAULT_FINISHED_RETENTION_MS,
    maxFanoutDevices: o.maxFanoutDevices ?? MAX_FANOUT_DEVICES,
  });
}
