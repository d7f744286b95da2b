/** tether pair approve: approve a pending request and issue the node's certificate. */
import type { PairRequest } from "@tether/wire";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str, tty, usageError } from "../../cli.js";
import { JOBS_SCOPE_SYNTAX, formatJobsScope, parseJobsScope } from "../devices/grant.js";

/** --code as the node prints it (NNN-NNN) or as 6 digits; the daemon compares it. */
async function codeOption(value: string | undefined): Promise<string | undefined> {
  if (value === undefined) return undefined;
  const { CryptoError, parseVerificationCode } = await import("@tether/crypto");
  try {
    return parseVerificationCode(value, "--code");
  } catch (cause) {
    if (cause instanceof CryptoError) throw new CliError(Exit.Usage, cause.message, { cause });
    throw cause;
  }
}

export const pairApproveCommand: Command = {
  name: "pair approve",
  summary: "approve a pending pairing request; the daemon issues the certificate",
  args: [{ name: "ID", about: "the request id (req_…, from tether pair list); optional with --code", optional: true, complete: "requests" }],
  synopsis: "[--code NNN-NNN]",
  help: `Approves a pending request (see \`tether pair list\`). The daemon's CA issues a
certificate bound to the node's TLS key; the waiting node receives it at once.

--code is the verification code the node printed (NNN-NNN, or 6 digits). The daemon
approves only a request with exactly this code, checked in the same step as the
approval. With ID: a request with another code is refused (exit 5) and nothing is
approved. Without ID: the one pending request with this code is approved; none is
exit 4, more than one is exit 5 (they are listed) and nothing is approved.

Approving a request twice, or one that is rejected or expired, fails (exit 5)
and issues nothing.`,
  examples: [
    'tether pair approve --code 438-072   # the node printed "verification code: 438-072"',
    "tether pair approve req_e838ee29fd629909da570593 --code 438-072 --role orchestrator --jobs site=berlin",
  ],
  options: {
    code: { type: "string", value: "NNN-NNN", about: "the verification code the node printed; the daemon approves only a request with it", default: "none (approve ID unchecked)" },
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
    const code = await codeOption(str(values.code));
    const id = positionals[0] ?? "";
    if (!id && code === undefined) throw usageError(this, "give a request id, --code with the node's verification code, or both");
    const role = str(values.role) ?? "";
    const jobs = str(values.jobs);
    if (jobs !== undefined && role === "node") throw new CliError(Exit.Usage, "--jobs is only for an orchestrator, not with --role node");
    const jobScope = jobs === undefined ? undefined : parseJobsScope(jobs);
    const r = await admin<PairRequest>(await dataDirOf(values, io.env), "ApproveRequest", { id, role, code: code ?? "", ...(jobScope ? { jobScope } : {}) });
    const scope = r.role === "orchestrator" ? tty`  jobs: ${formatJobsScope(jobScope)}\n` : "";
    const checked = code === undefined ? "" : tty`  verification code: ${r.verificationCode} (matches the one given)\n`;
    emit(
      io,
      Boolean(values.json),
      r,
      () => tty`approved ${r.id}: device ${r.deviceId} (${r.name}) as ${r.role}\n` + checked + tty`  certificate sha256: ${r.certificateFingerprint}\n` + scope,
    );
    return Exit.Ok;
  },
};
