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
    { name: "DEVICE", about: "the device id (dev_…, from tether devices list)", complete: "devices" },
    { name: "CAPABILITY", about: "one of the capabilities the device announced", complete: "capabilities" },
  ],
  help: `Queues a job for DEVICE's CAPABILITY and waits for the result, which it prints
(the output JSON, or with --json the whole job). A job for an offline device waits
in the queue until the device connects or the deadline passes; without --json the
command says so at once on stderr, with the job id and the deadline. Without
--state-dir the command uses the local admin socket.

Exit codes: 0 succeeded, 10 failed, 11 timed out, 12 cancelled, 4 no such device,
5 capability not announced / device revoked, 9 queue full, 2 bad input.`,
  examples: [
    `tether dispatch dev_4bzq3hh3tg2l6xyndziosfoxjw echo --input '{"hello":"world"}' --timeout 30`,
    "tether dispatch dev_4bzq3hh3tg2l6xyndziosfoxjw backup --input @job.json --no-wait --state-dir /var/lib/tether-orchestrator",
  ],
  options: {
    input: { type: "string", value: "JSON|@FILE", about: "the job's input: JSON text, or @ and a file holding it", default: "null" },
    timeout: { type: "string", value: "SECONDS", about: "the deadline from now, 1..86400", default: "60" },
    "idempotency-key": { type: "string", value: "KEY", about: "dispatching again with the same key returns the same job", default: "none" },
    "no-wait": { type: "boolean", about: "print the queued job and return at once" },
    ...DATA_DIR_OPTION,
    ...STATE_DIR_OPTION,
  },
  async run({ values, positionals, io }) {
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
