/** tether pair approve: approve a pending request and issue the node's certificate. */
import type { PairRequest } from "@tether/wire";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str, tty } from "../../cli.js";
import { JOBS_SCOPE_SYNTAX, formatJobsScope, parseJobsScope } from "../devices/grant.js";

export const pairApproveCommand: Command = {
  name: "pair approve",
  summary: "approve a pending pairing request; the daemon issues the certificate",
  args: [{ name: "ID", about: "the request id (req_…, from tether pair list)", complete: "requests" }],
  help: `Approves request ID (see \`tether pair list\`) after you have checked that its
verification code matches the one the node printed. The daemon's CA issues a
certificate bound to the node's TLS key; the waiting node receives it at once.

Approving a request twice, or one that is rejected or expired, fails (exit 5)
and issues nothing.`,
  examples: ["tether pair approve req_e838ee29fd629909da570593", "tether pair approve req_e838ee29fd629909da570593 --role orchestrator --jobs site=berlin"],
  options: {
    role: { type: "string", choices: ["node", "orchestrator"], about: "grant this role instead of the one the node asked for", default: "the role the node asked for" },
    jobs: {
      type: "string",
      value: "SCOPE",
      about: `orchestrators only: which jobs besides its own it may see and cancel:\n${JOBS_SCOPE_SYNTAX} (see tether devices grant --help)`,
      default: "own",
    },
    ...DATA_DIR_OPTION,
  },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const role = str(values.role) ?? "";
    const jobs = str(values.jobs);
    if (jobs !== undefined && role === "node") throw new CliError(Exit.Usage, "--jobs is only for an orchestrator, not with --role node");
    const jobScope = jobs === undefined ? undefined : parseJobsScope(jobs);
    const r = await admin<PairRequest>(await dataDirOf(values, io.env), "ApproveRequest", { id, role, ...(jobScope ? { jobScope } : {}) });
    const scope = r.role === "orchestrator" ? tty`  jobs: ${formatJobsScope(jobScope)}\n` : "";
    emit(io, Boolean(values.json), r, () => tty`approved ${r.id}: device ${r.deviceId} (${r.name}) as ${r.role}\n  certificate sha256: ${r.certificateFingerprint}\n` + scope);
    return Exit.Ok;
  },
};
