/** tether dispatch: send one job to a device and wait for its result. */
import { readFileSync } from "node:fs";
import type { Job } from "@tether/wire";
import type { LegacyCommand as Command } from "../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, STATE_DIR_OPTION, emit, rpc, str, targetOf, tty, watchJob } from "../cli.js";
import { exitForJob, jobJson } from "./jobs/format.js";

export const dispatchCommand: Command = {
  name: "dispatch",
  summary: "run a job on a device and print its result",
  usage: "tether dispatch DEVICE CAPABILITY [--input JSON|@FILE] [--timeout SECONDS] [--idempotency-key KEY] [--no-wait] [--data-dir DIR | --state-dir DIR] [--json]",
  help: `Queues a job for DEVICE's CAPABILITY and waits for the result, which it prints
(the output JSON, or with --json the whole job). A job for an offline device waits
in the queue until the device connects or the deadline passes.

  --input JSON|@FILE   the job's input, JSON text or a file holding it (default null)
  --timeout SECONDS    deadline from now (default 60, at most 86400)
  --idempotency-key K  dispatching again with the same key returns the same job
  --no-wait            print the queued job and return at once
  --state-dir DIR      act as the orchestrator device paired in DIR (mutual TLS);
                       without it the command uses the local admin socket

Exit codes: 0 succeeded, 10 failed, 11 timed out, 12 cancelled, 4 no such device,
5 capability not announced / device revoked, 9 queue full, 2 bad input.

Example:
  tether dispatch dev_abc... echo --input '{"hello":"world"}' --timeout 30`,
  options: {
    ...DATA_DIR_OPTION,
    ...STATE_DIR_OPTION,
    input: { type: "string" },
    timeout: { type: "string" },
    "idempotency-key": { type: "string" },
    "no-wait": { type: "boolean" },
  },
  async run({ values, positionals, io }) {
    const [device, capability, ...extra] = positionals;
    if (!device || !capability || extra.length) throw new CliError(Exit.Usage, `give DEVICE and CAPABILITY\nusage: ${this.usage}`);
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
    const final = await watchJob<Job>(target, job.id, () => undefined);
    const j = jobJson(final);
    emit(io, Boolean(values.json), j, () =>
      final.state === "succeeded" ? `${JSON.stringify(j.output, null, 2)}\n` : tty`job ${final.id} ${final.state}${final.error ? ": " : ""}${final.error}\n`,
    );
    if (!values.json && final.state !== "succeeded") io.err(`tether: job ${final.id} ${final.state}\n`);
    return exitForJob(final.state);
  },
};
