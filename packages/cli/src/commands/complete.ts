/**
 * tether __complete KIND [WORD...]: live values for shell completion (completion.ts), one
 * "value<TAB>about" a line, from the daemon's admin socket. It never fails: with no daemon, or
 * any error, it prints nothing and exits 0, so a shell's completion stays quiet.
 */
import type { Device, Job, PairRequest } from "@tether/wire";
import { visible } from "@tether/base";
import type { Command, Completer, Target } from "../cli.js";
import { DATA_DIR_OPTION, Exit, dataDirOf, rpc } from "../cli.js";

/** How long completion waits for the daemon: a shell must not hang on a tab. */
export const COMPLETE_TIMEOUT_MS = 1_500;

export const LIVE_KINDS = ["requests", "devices", "orchestrators", "revoked", "capabilities", "jobs", "preauthorized"] as const satisfies readonly Completer[];
type Live = (typeof LIVE_KINDS)[number];

type Row = [value: string, about: string];

const devices = async (t: Target) => (await rpc<{ devices: Device[] }>("Admin", t, "ListDevices", {}, COMPLETE_TIMEOUT_MS)).devices;
const deviceRow = (d: Device): Row => [d.id, `${d.name} (${d.role}, ${d.revokedAt ? "revoked" : d.online ? "online" : "offline"})`];

/** The candidates of KIND; `words` are the positionals typed so far (capabilities: the device). */
export async function liveValues(kind: Live, words: string[], target: Target): Promise<Row[]> {
  switch (kind) {
    case "requests": {
      const { requests } = await rpc<{ requests: PairRequest[] }>("Admin", target, "ListRequests", { state: "pending" }, COMPLETE_TIMEOUT_MS);
      return requests.map((r) => [r.id, `${r.name} ${r.requestedRole || r.role}, verify ${r.verificationCode}`]);
    }
    case "devices":
      return (await devices(target)).map(deviceRow);
    case "orchestrators":
      return (await devices(target)).filter((d) => d.role === "orchestrator").map(deviceRow);
    case "revoked":
      return (await devices(target)).filter((d) => d.revokedAt).map(deviceRow);
    case "capabilities": {
      const all = await devices(target);
      const caps = new Set((words[0] ? all.filter((d) => d.id === words[0]) : all).flatMap((d) => d.capabilities));
      return [...caps].map((c) => [c, "capability"]);
    }
    case "jobs": {
      const { jobs } = await rpc<{ jobs: Job[] }>("Orchestrator", target, "ListJobs", { deviceId: "", state: "", limit: 100 }, COMPLETE_TIMEOUT_MS);
      return jobs.map((j) => [j.id, `${j.capability} on ${j.deviceId}, ${j.state}`]);
    }
    case "preauthorized": {
      const { preauthorizations } = await rpc<{ preauthorizations: { deviceId: string; name: string; usedAt: number }[] }>(
        "Admin",
        target,
        "ListPreauthorizations",
        {},
        COMPLETE_TIMEOUT_MS,
      );
      return preauthorizations.filter((p) => !p.usedAt).map((p) => [p.deviceId, p.name || "preauthorized"]);
    }
  }
}

export const completeCommand: Command = {
  name: "__complete",
  summary: "live values for shell completion (used by the scripts of tether completion)",
  hidden: true,
  args: [
    { name: "KIND", about: "what to list", choices: LIVE_KINDS },
    { name: "WORD", about: "the positionals typed so far", optional: true, variadic: true },
  ],
  help: `Prints one "value<TAB>description" a line: the live values of KIND from the daemon's
admin socket. Prints nothing, and exits 0, when no daemon answers within ${COMPLETE_TIMEOUT_MS} ms.`,
  examples: ["tether __complete requests --data-dir /var/lib/tether"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const [kind, ...words] = positionals as [Live, ...string[]];
    try {
      const rows = await liveValues(kind, words, { kind: "socket", dataDir: await dataDirOf(values, io.env) });
      // Names came from nodes: shown inert, and a tab or newline in them cannot split a row.
      io.out(rows.map(([v, about]) => `${visible(v)}\t${visible(about)}\n`).join(""));
    } catch {
      // no daemon, or it refused: offer nothing
    }
    return Exit.Ok;
  },
};
