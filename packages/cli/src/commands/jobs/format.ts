/** How jobs look in CLI output: JSON fields decoded, and a one-line human summary. */
import type { Job } from "@tether/wire";
import { Exit, isoTime } from "../../cli.js";

/** The JSON form: input and output as parsed JSON rather than bytes. */
export function jobJson(j: Job) {
  const parse = (b: Uint8Array) => {
    const t = Buffer.from(b).toString("utf8");
    try {
      return t ? (JSON.parse(t) as unknown) : null;
    } catch {
      return t;
    }
  };
  return {
    id: j.id,
    deviceId: j.deviceId,
    capability: j.capability,
    state: j.state,
    input: parse(j.input),
    output: parse(j.output),
    error: j.error || undefined,
    attempts: j.attempts,
    createdAt: isoTime(j.createdAt),
    deadline: isoTime(j.deadline),
    updatedAt: isoTime(j.updatedAt),
    idempotencyKey: j.idempotencyKey || undefined,
    dispatchedBy: j.dispatchedBy,
  };
}

/** Exit code for a job's final state. */
export function exitForJob(state: string): number {
  switch (state) {
    case "succeeded":
      return Exit.Ok;
    case "timed_out":
      return Exit.JobTimedOut;
    case "cancelled":
      return Exit.JobCancelled;
    default:
      return Exit.JobFailed;
  }
}
