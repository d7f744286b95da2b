/** tether jobs cancel ID */
import type { Job } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, STATE_DIR_OPTION, emit, rpc, str, targetOf } from "../../cli.js";
import { jobJson } from "./format.js";

export const jobsCancelCommand: Command = {
  name: "jobs cancel",
  summary: "cancel a job that has not finished",
  args: [{ name: "ID", about: "the job id (job_…, from tether jobs list)", complete: "jobs" }],
  help: `Cancels job ID. A job already delivered is also stopped on its node (the
command running it is killed). Cancelling a finished job fails with exit 5.`,
  examples: ['tether jobs cancel job_5f0c2a9e7d41b3c86a2e9f10 --reason "wrong input"'],
  options: { reason: { type: "string", value: "TEXT", about: "why, kept with the job", default: "none" }, ...DATA_DIR_OPTION, ...STATE_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const j = await rpc<Job>("Orchestrator", await targetOf(values, io.env), "CancelJob", { id, reason: str(values.reason) ?? "" });
    emit(io, Boolean(values.json), jobJson(j), () => `cancelled ${j.id}\n`);
    return Exit.Ok;
  },
};
