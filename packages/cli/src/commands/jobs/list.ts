/** tether jobs list */
import type { Job } from "@tether/wire";
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, STATE_DIR_OPTION, emit, isoTime, rpc, str, table, targetOf } from "../../cli.js";
import { jobJson } from "./format.js";

const STATES = ["queued", "delivered", "running", "succeeded", "failed", "timed_out", "cancelled"];

export const jobsListCommand: Command = {
  name: "jobs list",
  summary: "list jobs, newest first",
  usage: "tether jobs list [--device ID] [--state STATE] [--limit N] [--data-dir DIR | --state-dir DIR] [--json]",
  help: `Lists jobs, newest first (default 100, at most 1000).
States: ${STATES.join(", ")}.
Details of one job: tether jobs show ID`,
  options: { ...DATA_DIR_OPTION, ...STATE_DIR_OPTION, device: { type: "string" }, state: { type: "string" }, limit: { type: "string" } },
  async run({ values, io }) {
    const state = str(values.state) ?? "";
    if (state && !STATES.includes(state)) throw new CliError(Exit.Usage, `--state must be one of ${STATES.join(", ")}`);
    const limit = str(values.limit);
    if (limit !== undefined && (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000)) {
      throw new CliError(Exit.Usage, "--limit must be 1..1000");
    }
    const { jobs } = await rpc<{ jobs: Job[] }>("Orchestrator", await targetOf(values, io.env), "ListJobs", {
      deviceId: str(values.device) ?? "",
      state,
      limit: limit ? Number(limit) : 0,
    });
    emit(io, Boolean(values.json), jobs.map(jobJson), () =>
      jobs.length === 0
        ? "no jobs\n"
        : table(["ID", "DEVICE", "CAPABILITY", "STATE", "ATTEMPTS", "CREATED"], jobs.map((j) => [j.id, j.deviceId, j.capability, j.state, String(j.attempts), isoTime(j.createdAt)])),
    );
    return Exit.Ok;
  },
};
