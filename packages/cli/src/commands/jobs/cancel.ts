/** tether jobs cancel ID */
import type { Job } from "@tether/wire";
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, STATE_DIR_OPTION, emit, rpc, str, targetOf } from "../../cli.js";
import { jobJson } from "./format.js";

export const jobsCancelCommand: Command = {
  name: "jobs cancel",
  summary: "cancel a job that has not finished",
  usage: "tether jobs cancel ID [--reason TEXT] [--data-dir DIR | --state-dir DIR] [--json]",
  help: `Cancels job ID. A job already delivered is also stopped on its node (the
command running it is killed). Cancelling a finished job fails with exit 5.`,
  options: { ...DATA_DIR_OPTION, ...STATE_DIR_OPTION, reason: { type: "string" } },
  async run({ values, positionals, io }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new CliError(Exit.Usage, `give exactly one job id\nusage: ${this.usage}`);
    const j = await rpc<Job>("Orchestrator", await targetOf(values, io.env), "CancelJob", { id, reason: str(values.reason) ?? "" });
    emit(io, Boolean(values.json), jobJson(j), () => `cancelled ${j.id}\n`);
    return Exit.Ok;
  },
};
