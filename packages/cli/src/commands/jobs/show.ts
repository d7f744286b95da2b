/** tether jobs show ID */
import type { Job } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, OUTPUT_OPTION, STATE_DIR_OPTION, emit, rpc, targetOf, tty } from "../../cli.js";
import { jobJson } from "./format.js";

export const jobsShowCommand: Command = {
  name: "jobs show",
  summary: "show one job with its input, output or error",
  args: [{ name: "ID", about: "the job id (job_…, from tether jobs list)", complete: "jobs" }],
  help: `Shows job ID: its state, device, capability, attempts, input and output or error,
one field a line (table and wide are the same here: every field).`,
  examples: ["tether jobs show job_5f0c2a9e7d41b3c86a2e9f10 --json"],
  options: { ...OUTPUT_OPTION, ...DATA_DIR_OPTION, ...STATE_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const j = jobJson(await rpc<Job>("Orchestrator", await targetOf(values, io.env), "GetJob", { id }));
    // One line per field: the error (often a command's stderr) and the output came from the node.
    const line = ([k, v]: [string, unknown]) => tty`${k.padEnd(15)} ${typeof v === "string" ? v : JSON.stringify(v)}\n`;
    emit(io, Boolean(values.json), j, () =>
      Object.entries(j)
        .filter(([, v]) => v !== undefined)
        .map(line)
        .join(""),
    );
    return Exit.Ok;
  },
};
