/**
 * Which jobs a caller of the Orchestrator service may see and act on (docs/fleet.md 6.1).
 * The admin socket: every job. An orchestrator: the jobs it dispatched, and those its job
 * scope covers (every job, or the jobs of devices carrying the scope's labels). The scope and
 * the labels are read from the device records at each check, so a grant or a label change
 * takes effect at once, also on watch streams already open.
 */
import type { CanSee } from "@tether/jobs";
import { jobScopeCovers } from "@tether/pairing";
import type { DeviceRecord } from "@tether/pairing";

export type JobAccess = {
  /** whether the caller may see (get, watch, cancel) this job */
  canSee: CanSee;
  /** what ListJobs narrows to: the caller's own jobs through their index, or a filter */
  list: { dispatchedBy?: string; canSee?: CanSee };
};

const everyJob: JobAccess = { canSee: () => true, list: {} };

/** `orchestrator`: the calling device's id; undefined for the admin socket. */
export function jobAccess(orchestrator: string | undefined, devices: { device(id: string): DeviceRecord | undefined }): JobAccess {
  if (orchestrator === undefined) return everyJob;
  const canSee: CanSee = (j) => j.dispatchedBy === orchestrator || jobScopeCovers(devices.device(orchestrator)?.jobScope, devices.device(j.deviceId)?.labels);
  const scope = devices.device(orchestrator)?.jobScope;
  if (!scope) return { canSee, list: { dispatchedBy: orchestrator } };
  return { canSee, list: scope.kind === "all" ? {} : { canSee } };
}
