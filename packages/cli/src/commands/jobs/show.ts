/** tether jobs show ID */
import type { Job } from "@tether/wire";
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, STATE_DIR_OPTION, emit, rpc, targetOf, tty } from "../../cli.js";
import { jobJson } from "./format.js";

export const jobsShowCommand: Command = {
  name: "jobs show",
  summary: "show one job with its input, output or error",
  usage: "tether jobs show ID [--data-dir DIR | --state-dir DIR] [--json]",
  help: "Shows job ID: its state, device, capability, attempts, input and output or error.",
  options: { ...DATA_DIR_OPTION, ...STATE_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new CliError(Exit.Usage, `give exactly one job id\nusage: ${this.usage}`);
    const j = jobJson(await rpc<Job>("Orchestrator", await targetOf(values, io.env), "GetJob", { id }));
    // One line per field: the error (often a command's stderr) and the output came from the node.
    const line = ([k, v]: [string, unknown]) => tty`${k.padEnd(15)} ${typeof v === "string" ? v : JSON.stringify(v)}\n`;
    emit(io, Boolean(values.json), j, () => Object.entries(j).filter(([, v]) => v !== undefined).map(line).join(""));
    return Exit.Ok;
  },
};
