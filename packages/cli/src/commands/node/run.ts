/**
 * tether node run: connect as a paired node and run each job's COMMAND with the job's input
 * JSON on stdin; stdout (JSON) is the output, a non-zero exit a failure with stderr's tail.
 */
import { spawn } from "node:child_process";
import { visibleJson } from "@tether/base";
import { status } from "@grpc/grpc-js";
import { NodeError, connect, defaultStateDir } from "@tether/node";
import type { JobContext } from "@tether/node";
import type { Command, Io } from "../../cli.js";
import { CliError, Exit, str, tty } from "../../cli.js";

const MAX_STDOUT = 1024 * 1024;
const STDERR_TAIL = 2048;
const KILL_GRACE_MS = 2000;
/** Warn when this machine and the daemon disagree about the time by more than this. */
const CLOCK_WARN_S = 60;

/** Run one job's command; resolves with its parsed stdout, rejects with a reason. */
export function runCommand(command: string, input: unknown, ctx: JobContext): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", command], {
      stdio: ["pipe", "pipe", "pipe"],
      env: {
        ...process.env,
        TETHER_JOB_ID: ctx.jobId,
        TETHER_JOB_DEADLINE: new Date(ctx.deadline).toISOString(),
        TETHER_JOB_DEADLINE_MS: String(ctx.deadline),
        TETHER_JOB_ATTEMPT: String(ctx.attempt),
      },
      detached: true, // its own process group, so a kill reaches its children too
    });
    let out = Buffer.alloc(0);
    let err = "";
    let tooBig = false;
    child.stdout.on("data", (d: Buffer) => {
      if (out.length + d.length > MAX_STDOUT) tooBig = true;
      else out = Buffer.concat([out, d]);
    });
    child.stderr.on("data", (d: Buffer) => {
      err = (err + d.toString("utf8")).slice(-STDERR_TAIL);
    });
    const kill = () => {
      try {
        process.kill(-(child.pid as number), "SIGTERM");
        setTimeout(() => {
          try {
            process.kill(-(child.pid as number), "SIGKILL");
          } catch {
            // already gone
          }
        }, KILL_GRACE_MS).unref();
      } catch {
        // already gone
      }
    };
    ctx.signal.addEventListener("abort", kill, { once: true });
    child.stdin.on("error", () => undefined); // a command that ignores stdin
    child.stdin.end(JSON.stringify(input));
    child.on("error", (e) => reject(new Error(`cannot start command: ${e.message}`)));
    child.on("close", (code, signal) => {
      ctx.signal.removeEventListener("abort", kill);
      if (ctx.signal.aborted) return reject(new Error(`${String((ctx.signal.reason as Error)?.message ?? "aborted")}; command killed`));
      if (code !== 0) return reject(new Error(`command exited with ${signal ?? code}${err ? `: ${err.trim()}` : ""}`));
      if (tooBig) return reject(new Error(`command wrote more than ${MAX_STDOUT} bytes`));
      const text = out.toString("utf8").trim();
      if (!text) return resolve(null);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new Error("command's stdout is not JSON"));
      }
    });
  });
}

/** Progress lines on stderr; their fields carry text from the daemon and from job commands, shown inert. */
function logger(io: Io, json: boolean) {
  return (event: string, fields: Record<string, unknown>) =>
    io.err(
      json
        ? `${visibleJson({ time: new Date().toISOString(), event, ...fields })}\n`
        : `${new Date().toISOString()} ${event} ${Object.entries(fields).map(([k, v]) => tty`${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")}\n`,
    );
}

export const nodeRunCommand: Command = {
  name: "node run",
  summary: "connect as a paired node and run jobs with shell commands",
  usage: "tether node run --capability NAME=COMMAND ... [--max-concurrency N] [--state-dir DIR] [--daemon HOST:PORT] [--json-logs]",
  help: `Connects to the daemon with the identity paired in the state directory and
announces one capability per --capability. For each job of capability NAME it runs
COMMAND with /bin/sh, the job's input JSON on stdin, and these variables set:
  TETHER_JOB_ID, TETHER_JOB_DEADLINE (ISO time), TETHER_JOB_DEADLINE_MS, TETHER_JOB_ATTEMPT
Its stdout, parsed as JSON, is the job's output (empty stdout means null). A non-zero
exit fails the job with the tail of stderr. The command (and its process group) is
killed when the deadline passes or the job is cancelled.

Jobs can be delivered more than once (after a reconnect or a daemon restart) with the
same TETHER_JOB_ID; this node never runs a job id twice at once, and answers a repeat of
a finished one with the result it already has.

It reconnects with exponential backoff and jitter, and exits 8 if the daemon refuses
this device for good (revoked, a certificate that is no longer current, or expired),
saying why and what works from there (e.g. after a revocation an admin must run
\`tether devices unrevoke ID\` before this device can pair again). It renews
its certificate before it expires, keeps the CA's CRL that the daemon sends (crl.der in
the state directory), and warns when this machine's clock is more than a minute off
the daemon's (tether tolerates 5 minutes either way).

  --max-concurrency N   jobs to run at once (default 1, at most 64)
  --json-logs           log JSON lines on stderr

Example:
  tether node run --capability echo='cat' --capability uptime='uptime | jq -R .'`,
  options: {
    capability: { type: "string", multiple: true },
    "max-concurrency": { type: "string" },
    "state-dir": { type: "string" },
    daemon: { type: "string" },
    "json-logs": { type: "boolean" },
  },
  async run({ values, io }) {
    const caps = (values.capability as string[] | undefined) ?? [];
    if (caps.length === 0) throw new CliError(Exit.Usage, `give at least one --capability NAME=COMMAND\nusage: ${this.usage}`);
    const mc = str(values["max-concurrency"]) ?? "1";
    if (!/^\d+$/.test(mc) || Number(mc) < 1 || Number(mc) > 64) throw new CliError(Exit.Usage, "--max-concurrency must be 1..64");
    const log = logger(io, Boolean(values["json-logs"]));
    let conn;
    try {
      conn = connect(str(values["state-dir"]) ?? defaultStateDir(io.env), {
        maxConcurrency: Number(mc),
        ...(str(values.daemon) ? { daemon: str(values.daemon) as string } : {}),
      });
      for (const spec of caps) {
        const eq = spec.indexOf("=");
        if (eq < 1 || eq === spec.length - 1) throw new CliError(Exit.Usage, `--capability ${JSON.stringify(spec)} must be NAME=COMMAND`);
        const command = spec.slice(eq + 1);
        conn.handle(spec.slice(0, eq), (input, ctx) => runCommand(command, input, ctx));
      }
    } catch (err) {
      if (err instanceof NodeError) throw new CliError(err.code === "STATE_DIR" || err.code === "BAD_INPUT" ? Exit.Usage : Exit.Failure, err.message, { cause: err });
      throw err;
    }
    conn.on("registered", (r: { deviceId: string; maxConcurrency: number }) => {
      reachable = true;
      log("registered", { device: r.deviceId, maxConcurrency: r.maxConcurrency, capabilities: caps.map((c) => c.split("=")[0]) });
      const offsetS = Math.round(conn.daemonClockOffsetMs() / 1000);
      if (Math.abs(offsetS) > CLOCK_WARN_S) {
        log("clock skew", { daemonAheadBySeconds: offsetS, advice: "this machine's clock and the daemon's differ; tether tolerates 5 minutes either way: check NTP on both" });
      }
    });
    conn.on("crl", (c: { crlNumber: number; revokedSerials: Set<string> }) => log("crl updated", { crlNumber: c.crlNumber, revoked: c.revokedSerials.size }));
    conn.on("crl-refused", (e: Error) => log("crl refused", { error: e.message }));
    let reachable = true;
    conn.on("disconnected", (d: { code: number; details: string; retryInMs: number; daemon: string }) => {
      const unreachable = d.code === status.UNAVAILABLE || d.code === status.DEADLINE_EXCEEDED;
      // Said once per outage: what is true, and that retrying goes on by itself.
      const advice =
        unreachable && reachable
          ? { advice: `cannot reach the daemon at ${d.daemon}: retrying until it answers (backoff up to 30 s); check that \`tether daemon\` is running there` }
          : {};
      reachable = !unreachable;
      log("disconnected", { ...d, ...advice });
    });
    conn.on("job", (j: Record<string, unknown>) => log("job started", j));
    conn.on("renewed", (r: { notAfter: number; fingerprint: string }) => log("certificate renewed", { notAfter: new Date(r.notAfter).toISOString(), fingerprint: r.fingerprint }));
    conn.on("renewal-failed", (e: Error) => log("certificate renewal failed", { error: e.message }));
    conn.on("result", (r: Record<string, unknown>) => log("job finished", r));
    let refusal: Error | undefined;
    const stop = new Promise<number>((resolve) => {
      conn.on("fatal", (e: Error) => {
        refusal = e;
        log("refused", { error: e.cause instanceof Error ? e.cause.message : e.message });
        resolve(Exit.AuthFailed);
      });
      const quit = () => resolve(Exit.Ok);
      process.once("SIGINT", quit);
      process.once("SIGTERM", quit);
    });
    conn.start().catch(() => undefined); // failures surface as "fatal" or retries
    const code = await stop;
    await conn.close();
    if (refusal) io.err(tty`tether: ${refusal.message}\n`);
    return code;
  },
};
