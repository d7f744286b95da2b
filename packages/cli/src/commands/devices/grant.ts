/**
 * tether devices grant ID --jobs SCOPE, tether devices ungrant ID: which jobs an orchestrator
 * may see and act on besides its own (docs/fleet.md 6.1). Also the --jobs syntax that
 * `tether pair approve` shares, and the text `devices show` prints.
 */
import type { Device, JobScope } from "@tether/wire";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, str } from "../../cli.js";

export const JOBS_SCOPE_SYNTAX = "own|all|KEY=VALUE[,KEY=VALUE...]";

/**
 * `own`, `all`, or label pairs (the jobs of devices carrying every one of them). The daemon
 * checks the keys and values.
 */
export function parseJobsScope(text: string): JobScope {
  if (text === "own" || text === "all") return { kind: text, labels: {} };
  const labels: Record<string, string> = {};
  for (const p of text.split(",")) {
    const eq = p.indexOf("=");
    if (eq < 1 || eq === p.length - 1) throw new CliError(Exit.Usage, `--jobs must be ${JOBS_SCOPE_SYNTAX}; ${JSON.stringify(p)} is not KEY=VALUE`);
    const key = p.slice(0, eq);
    if (key in labels) throw new CliError(Exit.Usage, `--jobs names label ${JSON.stringify(key)} twice`);
    labels[key] = p.slice(eq + 1);
  }
  return { kind: "labels", labels };
}

/** As --jobs takes it: `own`, `all` or `k=v,k2=v2`. */
export function formatJobsScope(s: JobScope | null | undefined): string {
  if (!s || s.kind === "own" || s.kind === "") return "own";
  if (s.kind === "all") return "all";
  return Object.entries(s.labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

function scopeLine(d: Device): string {
  const s = formatJobsScope(d.jobScope);
  const what = s === "own" ? "only the jobs it dispatched" : s === "all" ? "every job" : `its own jobs and the jobs of devices labelled ${s}`;
  // the id only: the name came from the node, and this line is printed as it is
  return `${d.id}: jobs ${s} (${what})\n`;
}

async function setScope(values: Record<string, unknown>, env: NodeJS.ProcessEnv, id: string, jobScope: JobScope): Promise<Device> {
  const { certificatePem: _p, ...d } = await admin<Device>(await dataDirOf(values, env), "SetJobScope", { id, jobScope });
  return d as Device;
}

export const devicesGrantCommand: Command = {
  name: "devices grant",
  summary: "let an orchestrator see and cancel jobs it did not dispatch",
  args: [{ name: "ID", about: "the orchestrator's device id (dev_…)", complete: "orchestrators" }],
  help: `An orchestrator sees, watches and cancels only the jobs it dispatched; to it, the
others do not exist (NOT_FOUND). A grant widens that for orchestrator ID:

  --jobs all            every job, whoever dispatched it
  --jobs site=berlin    also the jobs that run on devices labelled site=berlin (with
                        several pairs, on devices carrying all of them), by their labels
                        at the time of each call: see tether devices label
  --jobs own            back to its own jobs only (as tether devices ungrant ID)

It takes effect at once, also on watch streams already open, and is recorded in the
audit log (device.job_scope_changed). Only an orchestrator can be granted anything.
The admin socket always sees every job.`,
  examples: ["tether devices grant dev_4bzq3hh3tg2l6xyndziosfoxjw --jobs site=berlin", "tether devices grant dev_4bzq3hh3tg2l6xyndziosfoxjw --jobs all"],
  options: {
    jobs: { type: "string", required: true, value: JOBS_SCOPE_SYNTAX, about: "which jobs besides its own it may see and cancel" },
    ...DATA_DIR_OPTION,
  },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const d = await setScope(values, io.env, id, parseJobsScope(str(values.jobs) as string));
    emit(io, Boolean(values.json), d, () => scopeLine(d));
    return Exit.Ok;
  },
};

export const devicesUngrantCommand: Command = {
  name: "devices ungrant",
  summary: "take an orchestrator's job grant away: it sees only its own jobs again",
  args: [{ name: "ID", about: "the orchestrator's device id (dev_…)", complete: "orchestrators" }],
  help: `Removes the job scope of orchestrator ID (tether devices grant): from the next call
on, and on its watch streams already open, it sees and cancels only the jobs it
dispatched. Recorded in the audit log (device.job_scope_changed). Nothing changes,
and nothing is recorded, if it had no grant.`,
  examples: ["tether devices ungrant dev_4bzq3hh3tg2l6xyndziosfoxjw"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const d = await setScope(values, io.env, id, { kind: "own", labels: {} });
    emit(io, Boolean(values.json), d, () => scopeLine(d));
    return Exit.Ok;
  },
};
