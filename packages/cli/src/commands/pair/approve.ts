/** tether pair approve: approve a pending request and issue the node's certificate. */
import type { PairRequest } from "@tether/wire";
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str, tty } from "../../cli.js";
import { JOBS_SCOPE_SYNTAX, formatJobsScope, parseJobsScope } from "../devices/grant.js";

export const pairApproveCommand: Command = {
  name: "pair approve",
  summary: "approve a pending pairing request; the daemon issues the certificate",
  usage: `tether pair approve ID [--role node|orchestrator] [--jobs ${JOBS_SCOPE_SYNTAX}] [--data-dir DIR] [--json]`,
  help: `Approves request ID (see \`tether pair list\`) after you have checked that its
verification code matches the one the node printed. The daemon's CA issues a
certificate bound to the node's TLS key; the waiting node receives it at once.

  --role ROLE   grant this role instead of the one the node asked for
  --jobs SCOPE  orchestrators only: which jobs besides its own it may see and
                cancel: all, or KEY=VALUE[,...] for the jobs of devices with those
                labels (default own; see tether devices grant --help)

Approving a request twice, or one that is rejected or expired, fails (exit 5)
and issues nothing.`,
  options: { ...DATA_DIR_OPTION, role: { type: "string" }, jobs: { type: "string" } },
  async run({ values, positionals, io }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new CliError(Exit.Usage, `give exactly one request id\nusage: ${this.usage}`);
    const role = str(values.role) ?? "";
    if (role && role !== "node" && role !== "orchestrator") throw new CliError(Exit.Usage, "--role must be node or orchestrator");
    const jobs = str(values.jobs);
    if (jobs !== undefined && role === "node") throw new CliError(Exit.Usage, "--jobs is only for an orchestrator, not with --role node");
    const jobScope = jobs === undefined ? undefined : parseJobsScope(jobs);
    const r = await admin<PairRequest>(await dataDirOf(values, io.env), "ApproveRequest", { id, role, ...(jobScope ? { jobScope } : {}) });
    const scope = r.role === "orchestrator" ? tty`  jobs: ${formatJobsScope(jobScope)}\n` : "";
    emit(io, Boolean(values.json), r, () => tty`approved ${r.id}: device ${r.deviceId} (${r.name}) as ${r.role}\n  certificate sha256: ${r.certificateFingerprint}\n` + scope);
    return Exit.Ok;
  },
};
