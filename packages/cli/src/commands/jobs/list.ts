/** tether jobs list */
import type { Job } from "@tether/wire";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, OUTPUT_OPTION, STATE_DIR_OPTION, emit, isoTime, rpc, str, table, targetOf } from "../../cli.js";
import { jobJson } from "./format.js";

const STATES: readonly string[] = ["queued", "delivered", "running", "succeeded", "failed", "timed_out", "cancelled"];

export const jobsListCommand: Command = {
  name: "jobs list",
  summary: "list jobs, newest first",
  args: [],
  help: `Lists jobs, newest first. An orchestrator (--state-dir) sees the jobs it dispatched
and those its grant covers (tether devices grant).
-o wide adds who dispatched each job, its deadline and its last change.
--fanout ID lists the jobs of one fan-out (tether dispatch --selector) and their count
by state. Details of one job: tether jobs show ID`,
  examples: ["tether jobs list --state failed --limit 20", "tether jobs list --device dev_4bzq3hh3tg2l6xyndziosfoxjw -o wide"],
  options: {
    device: { type: "string", value: "ID", about: "only the jobs of this device", default: "every device", complete: "devices" },
    state: { type: "string", choices: STATES, about: "only the jobs in this state", default: "every state" },
    limit: { type: "string", value: "N", about: "at most N jobs, 1..1000", default: "100" },
    fanout: { type: "string", value: "ID", about: "only the jobs of this fan-out (fan_…, from tether dispatch --selector), with their count by state" },
    ...OUTPUT_OPTION,
    ...DATA_DIR_OPTION,
    ...STATE_DIR_OPTION,
  },
  async run({ values, io }) {
    const state = str(values.state) ?? "";
    const limit = str(values.limit);
    if (limit !== undefined && (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000)) {
      throw new CliError(Exit.Usage, "--limit must be 1..1000");
    }
    const fanoutId = str(values.fanout);
    let jobs: Job[];
    if (fanoutId !== undefined) {
      type Light = { id: string; deviceId: string; state: string; error: string; attempts: number };
      const f = await rpc<{ jobs: Light[]; states: Record<string, number>; capability: string }>("Orchestrator", await targetOf(values, io.env), "GetFanout", { id: fanoutId });
      const device = str(values.device);
      const shown = f.jobs.filter((j) => (!state || j.state === state) && (!device || j.deviceId === device)).slice(0, limit ? Number(limit) : 100);
      const counts =
        Object.entries(f.states)
          .sort()
          .map(([s, n]) => `${s} ${n}`)
          .join(", ") || "no jobs";
      emit(io, Boolean(values.json), { id: fanoutId, capability: f.capability, states: f.states, jobs: shown }, () =>
        [
          `fan-out ${fanoutId}: ${counts}\n`,
          shown.length
            ? table(
                ["ID", "DEVICE", "STATE", "ATTEMPTS", "ERROR"],
                shown.map((j) => [j.id, j.deviceId, j.state, String(j.attempts), j.error || "-"]),
              )
            : "",
        ].join(""),
      );
      return Exit.Ok;
    } else {
      ({ jobs } = await rpc<{ jobs: Job[] }>("Orchestrator", await targetOf(values, io.env), "ListJobs", {
        deviceId: str(values.device) ?? "",
        state,
        limit: limit ? Number(limit) : 0,
      }));
    }
    emit(io, Boolean(values.json), jobs.map(jobJson), () =>
      jobs.length === 0
        ? "no jobs\n"
        : table(
            ["ID", "DEVICE", "CAPABILITY", "STATE", "ATTEMPTS", "CREATED", ...(values.output === "wide" ? ["DISPATCHED BY", "DEADLINE", "UPDATED"] : [])],
            jobs.map((j) => [
              j.id,
              j.deviceId,
              j.capability,
              j.state,
              String(j.attempts),
              isoTime(j.createdAt),
              ...(values.output === "wide" ? [j.dispatchedBy, isoTime(j.deadline), isoTime(j.updatedAt)] : []),
            ]),
          ),
    );
    return Exit.Ok;
  },
};
