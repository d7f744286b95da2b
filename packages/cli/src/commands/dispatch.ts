/** tether dispatch: send one job to a device and wait for its result. */
import { readFileSync } from "node:fs";
import type { Job, NodeInfo } from "@tether/wire";
import type { Command, Io, Target } from "../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, STATE_DIR_OPTION, emit, isoTime, rpc, str, targetOf, tty, watchJob } from "../cli.js";
import { exitForJob, jobJson } from "./jobs/format.js";

/**
 * Whether the job's device is connected now (ListNodes for that one device); undefined when
 * that cannot be told (an older daemon answers for every device: only a listed match counts).
 */
async function deviceOnline(target: Target, deviceId: string): Promise<boolean | undefined> {
  try {
    const { nodes } = await rpc<{ nodes: NodeInfo[] }>("Orchestrator", target, "ListNodes", { deviceId, capability: "", online: "" });
    return nodes.find((n) => n.deviceId === deviceId)?.online;
  } catch {
    return undefined; // the notice is a courtesy; following the job reports any real failure
  }
}

/** Said at once on stderr when a job waits for an offline device, so the wait is not silent. */
function offlineNotice(io: Io, job: Job, now = Date.now()): void {
  const left = Math.max(0, Math.ceil((job.deadline - now) / 1000));
  io.err(
    tty`tether: device ${job.deviceId} is offline; job ${job.id} is queued.\n` +
      tty`  It is delivered when the device connects, or ends timed_out at ${isoTime(job.deadline)} (in ${left} s) if it does not.\n` +
      tty`  Waiting for it; Ctrl-C stops waiting, not the job (tether jobs show ${job.id}, tether jobs cancel ${job.id}).\n`,
  );
}

export const dispatchCommand: Command = {
  name: "dispatch",
  summary: "run a job on a device and print its result",
  args: [
    { name: "DEVICE", about: "the device id (dev_…, from tether devices list); not with --selector", complete: "devices", optional: true },
    { name: "CAPABILITY", about: "one of the capabilities the device announced; not with --selector", complete: "capabilities", optional: true },
  ],
  help: `Queues a job for DEVICE's CAPABILITY and waits for the result, which it prints
(the output JSON, or with --json the whole job). A job for an offline device waits
in the queue until the device connects or the deadline passes; without --json the
command says so at once on stderr, with the job id and the deadline. Without
--state-dir the command uses the local admin socket.

With --selector 'cap=NAME,KEY=VALUE,...' it is a fan-out instead (docs/fleet.md
§3.9): one job for every device that announced capability NAME and carries every
label given (--online: connected now; otherwise an offline one gets its job when it
connects), created in one atomic write, at most 10,000 devices. It prints the fan-out
id and waits until every job is final, then the count by state (tether jobs list
--fanout ID shows them). --idempotency-key makes a retried fan-out create nothing twice.

Exit codes: 0 succeeded (every job, for a fan-out), 10 failed (any), 11 timed out, 12
cancelled, 4 no such device, 5 capability not announced / device revoked / no device
matches the selector, 9 queue full / fan-out too large, 2 bad input.`,
  examples: [
    `tether dispatch dev_4bzq3hh3tg2l6xyndziosfoxjw echo --input '{"hello":"world"}' --timeout 30`,
    "tether dispatch dev_4bzq3hh3tg2l6xyndziosfoxjw backup --input @job.json --no-wait --state-dir /var/lib/tether-orchestrator",
    "tether dispatch --selector 'cap=upgrade,site=berlin' --online --idempotency-key upgrade-2026-12 --input '{}'",
  ],
  options: {
    input: { type: "string", value: "JSON|@FILE", about: "the job's input: JSON text, or @ and a file holding it", default: "null" },
    timeout: { type: "string", value: "SECONDS", about: "the deadline from now, 1..86400", default: "60" },
    "idempotency-key": { type: "string", value: "KEY", about: "dispatching again with the same key returns the same job", default: "none" },
    "no-wait": { type: "boolean", about: "print the queued job and return at once" },
    selector: { type: "string", value: "cap=NAME[,KEY=VALUE...]", about: "a fan-out: every device with capability NAME and each label, instead of DEVICE CAPABILITY" },
    online: { type: "boolean", about: "with --selector: only the devices connected now" },
    ...DATA_DIR_OPTION,
    ...STATE_DIR_OPTION,
  },
  async run({ values, positionals, io }) {
    const selector = str(values.selector);
    if (selector !== undefined && positionals.length) throw new CliError(Exit.Usage, "give DEVICE CAPABILITY, or --selector, not both");
    if (selector === undefined && positionals.length < 2) throw new CliError(Exit.Usage, "give DEVICE CAPABILITY (or --selector 'cap=NAME,...' for a fan-out)");
    if (selector === undefined && values.online) throw new CliError(Exit.Usage, "--online is for --selector");
    const [device = "", capability = ""] = positionals;
    let text = str(values.input) ?? "null";
    if (text.startsWith("@")) {
      try {
        text = readFileSync(text.slice(1), "utf8");
      } catch (cause) {
        throw new CliError(Exit.Usage, `--input ${text}: cannot read the file`, { cause });
      }
    }
    try {
      JSON.parse(text);
    } catch (cause) {
      throw new CliError(Exit.Usage, "--input is not valid JSON", { cause });
    }
    const t = str(values.timeout);
    if (t !== undefined && (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 86_400)) {
      throw new CliError(Exit.Usage, "--timeout must be a whole number of seconds from 1 to 86400");
    }
    const target = await targetOf(values, io.env);
    if (selector !== undefined) {
      const { capability: cap, labels } = parseSelector(selector);
      return fanOut(io, target, {
        capability: cap,
        labels,
        onlineOnly: Boolean(values.online),
        input: Buffer.from(text),
        timeoutMs: t ? Number(t) * 1000 : 0,
        idempotencyKey: str(values["idempotency-key"]) ?? "",
        wait: !values["no-wait"],
        json: Boolean(values.json),
      });
    }
    const job = await rpc<Job>("Orchestrator", target, "Dispatch", {
      deviceId: device,
      capability,
      input: Buffer.from(text),
      timeoutMs: t ? Number(t) * 1000 : 0,
      idempotencyKey: str(values["idempotency-key"]) ?? "",
    });
    if (values["no-wait"]) {
      emit(io, Boolean(values.json), jobJson(job), () => `queued ${job.id}\n`);
      return Exit.Ok;
    }
    const human = !values.json;
    let told = human && job.state === "queued" && (await deviceOnline(target, job.deviceId)) === false;
    if (told) offlineNotice(io, job);
    const final = await watchJob<Job>(target, job.id, (j) => {
      if (told && j.state !== "queued") {
        told = false;
        if (j.state === "delivered" || j.state === "running") io.err(tty`tether: device ${j.deviceId} connected; job ${j.id} is ${j.state}\n`);
      }
    });
    const j = jobJson(final);
    emit(io, Boolean(values.json), j, () =>
      final.state === "succeeded" ? `${JSON.stringify(j.output, null, 2)}\n` : tty`job ${final.id} ${final.state}${final.error ? ": " : ""}${final.error}\n`,
    );
    if (human && final.state !== "succeeded") io.err(`tether: job ${final.id} ${final.state}\n`);
    return exitForJob(final.state);
  },
};

/** cap=NAME[,KEY=VALUE...]: the capability, and the labels a device must carry. */
export function parseSelector(text: string): { capability: string; labels: Record<string, string> } {
  let capability = "";
  const labels: Record<string, string> = {};
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (eq < 1 || !v) throw new CliError(Exit.Usage, `--selector: ${JSON.stringify(part.slice(0, 64))} is not KEY=VALUE (e.g. cap=upgrade,site=berlin)`);
    if (k === "cap") {
      if (capability) throw new CliError(Exit.Usage, "--selector names cap= once");
      capability = v;
    } else if (k in labels) throw new CliError(Exit.Usage, `--selector names the label ${k} twice`);
    else labels[k] = v;
  }
  if (!capability) throw new CliError(Exit.Usage, "--selector needs cap=NAME, the capability every job runs (e.g. cap=upgrade,site=berlin)");
  return { capability, labels };
}

type FanoutJob = { id: string; deviceId: string; state: string; error: string; attempts: number };
type Fanout = { id: string; selector: string; jobs: FanoutJob[]; skipped: { deviceId: string; code: string; reason: string }[]; states: Record<string, number>; existed: boolean };

const FINAL = new Set(["succeeded", "failed", "timed_out", "cancelled"]);

/** Dispatch a fan-out; unless told not to, wait for every job to be final and say how they ended. */
async function fanOut(
  io: Io,
  target: Target,
  o: { capability: string; labels: Record<string, string>; onlineOnly: boolean; input: Buffer; timeoutMs: number; idempotencyKey: string; wait: boolean; json: boolean },
): Promise<number> {
  const { wait, json, ...req } = o;
  let f = await rpc<Fanout>("Orchestrator", target, "DispatchMany", req);
  const summary = (x: Fanout) =>
    Object.entries(x.states)
      .sort()
      .map(([s, n]) => `${s} ${n}`)
      .join(", ");
  if (!json) {
    io.err(tty`tether: fan-out ${f.id}${f.existed ? " (made before with this idempotency key)" : ""}: ${String(f.jobs.length)} jobs for ${f.selector}\n`);
    for (const s of f.skipped) io.err(tty`tether:   skipped ${s.deviceId}: ${s.reason}\n`);
  }
  while (wait && !f.jobs.every((j) => FINAL.has(j.state))) {
    await new Promise((r) => setTimeout(r, 500));
    f = await rpc<Fanout>("Orchestrator", target, "GetFanout", { id: f.id });
  }
  emit(io, json, f, () => `${f.id}: ${summary(f)}\n`);
  if (!wait) return Exit.Ok;
  const worst = ["failed", "timed_out", "cancelled"].find((s) => (f.states[s] ?? 0) > 0);
  return worst ? exitForJob(worst) : Exit.Ok;
}
