/**
 * tether node run: connect as a paired node and run each job's COMMAND with the job's input
 * JSON on stdin; stdout (JSON) is the output, a non-zero exit a failure with stderr's tail.
 * SIGTERM or SIGINT drains (no new jobs, running ones finish and are reported, then exit 0);
 * a second one stops at once.
 */
import { spawn } from "node:child_process";
import { resolve as resolvePath } from "node:path";
import { LOG_LEVEL_ENV, createLogger, parseDurationMs } from "@tether/base";
import type { LevelLogger, LogRecord } from "@tether/base";
import type { JobContext, NodeConnection } from "@tether/node";
import type { Command, Flag, Io } from "../../cli.js";
import { CliError, DAEMON_ADDRESS_OPTION, Exit, NODE_STATE_DIR_OPTION, grpcJs, str, tty } from "../../cli.js";
import { killGroup, renewHookEnv, runHook } from "./hook.js";

const MAX_STDOUT = 1024 * 1024;
const STDERR_TAIL = 2048;
/** Warn when this machine and the daemon disagree about the time by more than this. */
const CLOCK_WARN_S = 60;
/** How long a drain waits for running jobs by default (--drain-timeout), and at most. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
const MAX_DRAIN_TIMEOUT_MS = 24 * 3_600_000;

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
    const kill = () => killGroup(child);
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

/** A log record for people: `TIME LEVEL MSG key=value …`, every value shown inert. */
function textLine(r: LogRecord): string {
  const { time, level, msg, ...fields } = r;
  const kv = Object.entries(fields).map(([k, v]) => tty`${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return [tty`${time} ${level} ${msg}`, ...kv].join(" ");
}

/**
 * The progress log on stderr: the daemon's schema (docs/operations.md, "Logs") with
 * --json-logs, else the same records as text; $TETHER_LOG_LEVEL applies to both. Fields
 * carry text from the daemon and from job commands, shown inert either way.
 */
function logger(io: Io, json: boolean): LevelLogger {
  return createLogger({ write: io.err, level: io.env[LOG_LEVEL_ENV], ...(json ? {} : { format: textLine }) });
}

/** --drain-timeout: a duration (30s, 5m; bare digits are seconds), 0 to stop at once. */
function drainTimeoutOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_DRAIN_TIMEOUT_MS;
  const ms = parseDurationMs(text, { bareSeconds: true });
  if (ms === undefined || ms > MAX_DRAIN_TIMEOUT_MS) throw new CliError(Exit.Usage, "--drain-timeout must be a duration such as 30s or 5m (0 stops at once), at most 24h");
  return ms;
}

/** How `node run` ends: its exit code, whether running jobs were let finish, and why the daemon refused it, if it did. */
type Stop = { code: number; graceful: boolean; refusal?: Error };

/**
 * How the process stops: the first SIGTERM or SIGINT drains (for at most `drainMs`; 0 stops at
 * once), a second one of either stops at once. Resolves with the exit code and whether to
 * close gracefully; `fatal` (refused for good) stops at once with exit 8 and the refusal.
 */
function stopOnSignals(conn: NodeConnection, drainMs: number, log: LevelLogger): { stopped: Promise<Stop>; dispose(): void } {
  let onSignal: (sig: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<Stop>((resolve) => {
    let over = false;
    const stop = (how: Stop) => {
      over = true;
      resolve(how);
    };
    conn.on("fatal", (e: Error) => {
      // the daemon's own words; the explanation (what is true, what works) is printed at exit
      log.error("refused", { error: e.cause instanceof Error ? e.cause.message : e.message });
      stop({ code: Exit.AuthFailed, graceful: false, refusal: e });
    });
    onSignal = (signal) => {
      if (over) return;
      if (conn.draining || drainMs === 0) {
        log.warn("stopping now", { signal, running: conn.running, note: "running jobs are stopped and not reported; the daemon delivers them again" });
        stop({ code: Exit.Ok, graceful: false });
        return;
      }
      log.info("draining", { signal, running: conn.running, timeoutSeconds: drainMs / 1000, note: "no new jobs; send the signal again to stop at once" });
      void conn.drain(drainMs).then((d) => {
        if (over) return; // stopped at once meanwhile
        if (d.unfinished)
          log.warn("drain timed out", { finished: d.finished, unfinished: d.unfinished, note: "unfinished jobs are stopped and not reported; the daemon delivers them again" });
        else log.info("drained", { finished: d.finished });
        stop({ code: Exit.Ok, graceful: true });
      });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  return {
    stopped,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

export const nodeRunCommand: Command = {
  name: "node run",
  summary: "connect as a paired node and run jobs with shell commands",
  args: [],
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

SIGTERM or SIGINT drains: the daemon is told to send no more jobs, the running ones
finish and are reported (for at most --drain-timeout), then it exits 0. A second
SIGTERM or SIGINT stops at once: running jobs are killed and not reported, so the
daemon delivers them again. With --json only its errors are JSON; --json-logs makes the
progress log JSON lines (TETHER_LOG_LEVEL=error|warn|info|debug, default info).`,
  examples: [
    "tether node run --capability echo='cat' --capability uptime='uptime | jq -R .'",
    "tether node run --state-dir /var/lib/tether-node --capability backup=/usr/local/bin/backup-job --max-concurrency 4 --drain-timeout 5m --json-logs",
  ],
  options: {
    capability: { type: "string", required: true, multiple: true, value: "NAME=COMMAND", about: "run COMMAND (with /bin/sh) for the jobs of capability NAME" },
    "max-concurrency": { type: "string", value: "N", about: "jobs to run at once, 1..64", default: "1" },
    "drain-timeout": {
      type: "string",
      value: "DURATION",
      about: "how long a drain waits for running jobs (0 stops at once, as a second signal does; at most 24h)",
      default: "30s",
    },
    "on-renew": { type: "string", value: "COMMAND", about: "after each renewal of the certificate, run COMMAND with /bin/sh (as tether node renew --exec)" },
    "json-logs": { type: "boolean", about: "log JSON lines on stderr, in the daemon's log schema" },
    ...NODE_STATE_DIR_OPTION,
    ...DAEMON_ADDRESS_OPTION,
    daemon: {
      ...(DAEMON_ADDRESS_OPTION.daemon as Flag),
      value: "HOST:PORT[,HOST:PORT...]",
      about: "the daemon's node listener; several (replicas, or a daemon and its standby) are tried in turn:\na stream that ends or cannot be opened moves to the next",
    },
  },
  async run({ values, io }) {
    const caps = values.capability as string[];
    const mc = str(values["max-concurrency"]) ?? "1";
    if (!/^\d+$/.test(mc) || Number(mc) < 1 || Number(mc) > 64) throw new CliError(Exit.Usage, "--max-concurrency must be 1..64");
    const drainMs = drainTimeoutOf(str(values["drain-timeout"]));
    const onRenew = str(values["on-renew"]);
    if (onRenew !== undefined && !onRenew.trim()) throw new CliError(Exit.Usage, "--on-renew needs a COMMAND");
    const { NodeError, connect, defaultStateDir } = await import("@tether/node");
    const { status } = await grpcJs();
    const stateDir = resolvePath(str(values["state-dir"]) ?? defaultStateDir(io.env));
    const log = logger(io, Boolean(values["json-logs"]));
    let conn;
    try {
      conn = connect(stateDir, {
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
      log.info("registered", { device: r.deviceId, maxConcurrency: r.maxConcurrency, capabilities: caps.map((c) => c.split("=")[0]) });
      const offsetS = Math.round(conn.daemonClockOffsetMs() / 1000);
      if (Math.abs(offsetS) > CLOCK_WARN_S) {
        log.warn("clock skew", { daemonAheadBySeconds: offsetS, advice: "this machine's clock and the daemon's differ; tether tolerates 5 minutes either way: check NTP on both" });
      }
    });
    conn.on("crl", (c: { crlNumber: number; revokedSerials: Set<string> }) => log.info("crl updated", { crlNumber: c.crlNumber, revoked: c.revokedSerials.size }));
    conn.on("crl-refused", (e: Error) => log.warn("crl refused", { error: e.message }));
    let reachable = true;
    conn.on("disconnected", (d: { code: number; details: string; retryInMs: number; daemon: string; next: string }) => {
      const unreachable = d.code === status.UNAVAILABLE || d.code === status.DEADLINE_EXCEEDED;
      // Said once per outage: what is true, and that retrying goes on by itself.
      const advice =
        unreachable && reachable
          ? { advice: `cannot reach the daemon at ${d.daemon}: retrying until it answers (backoff up to 30 s); check that \`tether daemon\` is running there` }
          : {};
      reachable = !unreachable;
      log.warn("disconnected", {
        status: status[d.code] ?? d.code,
        error: d.details,
        retryInMs: d.retryInMs,
        ...(d.next !== d.daemon ? { daemon: d.daemon, next: d.next } : {}),
        ...advice,
      });
    });
    conn.on("job", (j: { jobId: string; capability: string; attempt: number }) => log.info("job started", { job: j.jobId, capability: j.capability, attempt: j.attempt }));
    conn.on("not-started", (j: { jobId: string; capability?: string }) =>
      log.info("job not started (draining)", { job: j.jobId, ...(j.capability ? { capability: j.capability } : {}) }),
    );
    let hooks = Promise.resolve();
    conn.on("renewed", (r: { notAfter: number; fingerprint: string }) => {
      log.info("certificate renewed", { notAfter: new Date(r.notAfter).toISOString(), certificate: r.fingerprint });
      // one hook at a time, each with the certificate as it is when it starts
      if (onRenew) {
        hooks = hooks.then(async () => {
          const ran = await runHook(onRenew, await renewHookEnv(stateDir, conn.deviceId, conn.tlsMaterial().certPem));
          if (ran.ok) log.info("renew hook ran", {});
          else log.error("renew hook failed", { error: ran.error, note: "the renewal stands" });
        });
      }
    });
    conn.on("renewal-failed", (e: Error) => log.error("certificate renewal failed", { error: e.message }));
    conn.on("returning", (r: { notAfter: number; daemon: string }) =>
      log.warn("certificate expired: returning by the identity key", { notAfter: new Date(r.notAfter).toISOString(), daemon: r.daemon }),
    );
    conn.on("return-pending", (r: { verificationCode: string; requestId: string; expiresAt: number }) =>
      log.warn("return waits for an admin", {
        request: r.requestId,
        verificationCode: r.verificationCode,
        expiresAt: new Date(r.expiresAt).toISOString(),
        advice: "past the daemon's --return-grace (or the admin asked to approve this device's returns): an admin approves it with tether pair approve, comparing this code",
      }),
    );
    conn.on("returned", (r: { notAfter: number; fingerprint: string; approvedBy: string }) =>
      log.info("returned", { notAfter: new Date(r.notAfter).toISOString(), certificate: r.fingerprint, approvedBy: r.approvedBy }),
    );
    conn.on("result", (r: { jobId: string; ok: boolean; error: string }) => {
      if (r.ok) log.info("job finished", { job: r.jobId, ok: true });
      else log.info("job finished", { job: r.jobId, ok: false, error: r.error });
    });
    const signals = stopOnSignals(conn, drainMs, log);
    conn.start().catch(() => undefined); // failures surface as "fatal" or retries
    const { code, graceful, refusal } = await signals.stopped;
    signals.dispose();
    await (graceful ? conn.closeGracefully() : conn.close());
    if (refusal) io.err(tty`tether: ${refusal.message}\n`);
    return code;
  },
};
