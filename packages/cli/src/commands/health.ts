/**
 * tether health: the daemon's status from the standard gRPC health service, as an exit code
 * for scripts, load balancers and systemd (`ExecStartPost=tether health --wait 60s`). Over the
 * admin socket by default; over the node listener's TLS with --daemon.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ChannelCredentials, Client, Metadata, ServiceError } from "@grpc/grpc-js";
import { parseDurationMs, splitHostPort } from "@tether/base";
import { ADMIN_SOCKET_NAME, API_PACKAGE, HEALTH_REASON_HEADER } from "@tether/wire";
import type { Command } from "../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, dataDirOf, emit, grpcJs, str } from "../cli.js";

/** Each check's deadline unless --timeout says otherwise. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 5_000;
export const MAX_HEALTH_TIMEOUT_MS = 10 * 60_000;
/** The longest --wait. */
export const MAX_HEALTH_WAIT_MS = 24 * 60 * 60_000;
/** With --wait: the pause between two checks. */
export const HEALTH_RETRY_MS = 250;

/** The names the daemon answers under, for the NOT_FOUND message. */
const NAMES = `"" (the daemon as a whole), ${API_PACKAGE}.Pairing, ${API_PACKAGE}.Node and ${API_PACKAGE}.Orchestrator (and ${API_PACKAGE}.Admin on the admin socket)`;

type HealthClient = Client & {
  Check(req: { service: string }, md: Metadata, opts: { deadline: number }, cb: (e: ServiceError | null, r?: { status: string }) => void): NodeJS.EventEmitter;
};

/** Where the check goes: the admin socket (no TLS), or the node listener (TLS verified with the CA). */
type Target = { via: "socket"; address: string; creds: ChannelCredentials; options: object } | { via: "tls"; address: string; creds: ChannelCredentials; options: object };

/** One check's outcome. */
type Outcome =
  { kind: "status"; status: string; reason?: string } | { kind: "unreachable"; details: string } | { kind: "not-found" } | { kind: "other"; code: number; details: string };

/** A duration for --timeout or --wait: 90s, 2m, ... (bare digits: seconds), or NNNms. */
function durationOf(text: string, flag: string, min: number, max: number, bounds: string): number {
  const ms = parseDurationMs(text, { bareSeconds: true, milliseconds: true });
  if (ms === undefined || !(ms >= min && ms <= max)) throw new CliError(Exit.Usage, `${flag} must be a duration like 500ms, 5s or 2m, ${bounds}, not ${JSON.stringify(text)}`);
  return ms;
}

/** HOST:PORT (IPv6 as [ADDR]:PORT), as --listen takes it (splitHostPort), and no white space. */
function checkAddress(s: string): void {
  if (/\s/.test(s) || !splitHostPort(s)) throw new CliError(Exit.Usage, `--daemon must be HOST:PORT (IPv6 as [ADDR]:PORT), got ${JSON.stringify(s)}`);
}

/** The CA to verify the listener with: --ca, else the data directory's ca/ca.pem; none is a usage error that says what to give. */
function caOf(ca: string | undefined, dataDir: string): string {
  const file = ca ?? join(dataDir, "ca", "ca.pem");
  if (!ca && !existsSync(file)) {
    throw new CliError(
      Exit.Usage,
      `no CA certificate to verify the daemon with: ${file} does not exist; give --ca FILE (the daemon's ca/ca.pem, or ca.pem in a paired device's state directory), or --data-dir of the daemon`,
    );
  }
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(Exit.Usage, `cannot read the CA certificate ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  try {
    new X509Certificate(pem);
  } catch (err) {
    throw new CliError(Exit.Usage, `${file} is not a PEM certificate (give the daemon's ca/ca.pem)`, { cause: err });
  }
  return pem;
}

/** grpc-js's words for a failed connection, without their boilerplate: "connect ECONNREFUSED 127.0.0.1:1". */
function connectionError(err: ServiceError, status: typeof import("@grpc/grpc-js").status): string {
  if (err.code === status.DEADLINE_EXCEEDED) return "no answer within --timeout";
  const last = /Last error: (?:Error: )?(.*?)\.?(?:\s*Resolution note:.*)?$/s.exec(err.details);
  return last?.[1] || err.details.replace(/\s*Resolution note:\s*$/, "") || "UNAVAILABLE";
}

/** One Check, on a channel of its own (a failed connection's backoff must not delay the next). */
async function checkOnce(target: Target, service: string, timeoutMs: number): Promise<Outcome> {
  const { Metadata, makeClientConstructor, status } = await grpcJs();
  const { service: definition } = await import("grpc-health-check");
  const Ctor = makeClientConstructor(definition as never, "Health") as unknown as new (a: string, c: ChannelCredentials, o: object) => HealthClient;
  const client = new Ctor(target.via === "socket" ? `unix://${target.address}` : target.address, target.creds, target.options);
  try {
    return await new Promise<Outcome>((resolve) => {
      let reason: string | undefined;
      const call = client.Check({ service }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (!err) return resolve({ kind: "status", status: res?.status ?? "UNKNOWN", ...(reason ? { reason } : {}) });
        if (err.code === status.NOT_FOUND) return resolve({ kind: "not-found" });
        if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) return resolve({ kind: "unreachable", details: connectionError(err, status) });
        resolve({ kind: "other", code: err.code, details: err.details });
      });
      // Only the admin socket says why it is not serving; the listener answers a status only.
      call.on("metadata", (md: Metadata) => {
        const v = md.get(HEALTH_REASON_HEADER)[0];
        if (typeof v === "string" && target.via === "socket") reason = v;
      });
    });
  } finally {
    client.close();
  }
}

export const healthCommand: Command = {
  name: "health",
  summary: "check the daemon's gRPC health: exit 0 when SERVING, 1 when not (for scripts and systemd)",
  args: [],
  help: `Asks the daemon's standard gRPC health service (grpc.health.v1.Health, Check) for
its status. Without --daemon it asks over the admin socket of the data directory; with
--daemon HOST:PORT it asks the node listener over TLS, as a load balancer would, with no
client certificate, verifying the daemon's certificate against --ca (default: the data
directory's ca/ca.pem; the CA is pinned, so the host name is not checked).

The daemon is SERVING while its store is writable and its CA, server and signer
certificates are valid; NOT_SERVING once a store write has failed, while a certificate
is expired or not yet valid, and from the moment it begins to stop. Over the admin socket
NOT_SERVING comes with the reason; the listener answers only a status.

Exits 0 when SERVING, 1 when NOT_SERVING, 3 when no daemon answers (nothing listening,
a TLS failure, or no answer within --timeout), 4 when the daemon has no such --service,
2 for bad usage. With --wait it checks about every ${HEALTH_RETRY_MS} ms until SERVING or the
time has passed (at most --wait plus one --timeout), then exits as above: a systemd
unit can wait for readiness with ExecStartPost=tether health --wait 60s.

Service names: "" (the daemon as a whole), ${API_PACKAGE}.Pairing, ${API_PACKAGE}.Node and
${API_PACKAGE}.Orchestrator; ${API_PACKAGE}.Admin on the admin socket only.`,
  examples: [
    "tether health                                              # the daemon of $TETHER_HOME, over its admin socket",
    "tether health --wait 60s --data-dir /var/lib/tether        # until it is ready (systemd ExecStartPost)",
    "tether health --daemon tether.lan:7443 --ca ca.pem --json   # the node listener, as a load balancer sees it",
    `tether health --service ${API_PACKAGE}.Pairing --timeout 2s`,
  ],
  options: {
    ...DATA_DIR_OPTION,
    daemon: { type: "string", value: "HOST:PORT", about: "check the node listener at HOST:PORT over TLS instead of the admin socket", default: "the admin socket" },
    ca: { type: "string", value: "FILE", about: "with --daemon: the CA certificate (PEM) to verify the daemon with", default: "DIR/ca/ca.pem", complete: "files" },
    service: {
      type: "string",
      value: "NAME",
      about: `the service whose status to ask: "" (the daemon), ${API_PACKAGE}.Pairing, .Node, .Orchestrator, .Admin (socket only)`,
      default: '"" (the daemon as a whole)',
    },
    timeout: { type: "string", value: "DURATION", about: "each check's deadline: 500ms, 5s, 2m, ... up to 10m", default: `${DEFAULT_HEALTH_TIMEOUT_MS / 1000}s` },
    wait: { type: "string", value: "DURATION", about: `keep checking every ${HEALTH_RETRY_MS} ms until SERVING or DURATION has passed (0 to 24h)`, default: "one check" },
  },
  async run({ values, io }) {
    const json = Boolean(values.json);
    const service = str(values.service) ?? "";
    const timeoutMs = str(values.timeout) ? durationOf(str(values.timeout) as string, "--timeout", 1, MAX_HEALTH_TIMEOUT_MS, "from 1ms to 10m") : DEFAULT_HEALTH_TIMEOUT_MS;
    const waitMs = str(values.wait) !== undefined ? durationOf(str(values.wait) as string, "--wait", 0, MAX_HEALTH_WAIT_MS, "from 0 to 24h") : undefined;
    const { credentials, status } = await grpcJs();
    const daemon = str(values.daemon);
    const ca = str(values.ca);
    if (ca !== undefined && daemon === undefined) throw new CliError(Exit.Usage, "--ca is for --daemon HOST:PORT (the admin socket needs no CA)");
    const dataDir = await dataDirOf(values, io.env);
    let target: Target;
    /** for "cannot reach …", and (who) for the daemon's other answers */
    let where: string;
    let who: string;
    if (daemon !== undefined) {
      checkAddress(daemon);
      const pem = caOf(ca, dataDir);
      // The CA is private and pinned: the chain is verified, the host name is not (as every tether client does).
      const creds = credentials.createSsl(Buffer.from(pem), null, null, { checkServerIdentity: () => undefined });
      target = { via: "tls", address: daemon, creds, options: { "grpc.ssl_target_name_override": "localhost" } };
      where = `the daemon's node listener at ${daemon}`;
      who = `the daemon at ${daemon}`;
    } else {
      const socket = join(dataDir, ADMIN_SOCKET_NAME);
      target = { via: "socket", address: socket, creds: credentials.createInsecure(), options: {} };
      where = `the daemon's admin socket ${socket}: is \`tether daemon\` running with this --data-dir?`;
      who = `the daemon on ${socket}`;
    }

    const started = Date.now();
    const until = waitMs === undefined ? started : started + waitMs;
    let attempts = 0;
    let last: Outcome;
    for (;;) {
      attempts++;
      last = await checkOnce(target, service, timeoutMs);
      if (last.kind === "status" && last.status === "SERVING") break;
      if (last.kind === "not-found" || last.kind === "other") break; // the daemon answered: waiting changes nothing
      const left = until - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(HEALTH_RETRY_MS, left)); // the last check at the end of --wait
    }
    const waited = waitMs === undefined ? {} : { attempts, waitedMs: Date.now() - started };
    const waitedText = waitMs === undefined ? "" : ` (${attempts} checks in ${((Date.now() - started) / 1000).toFixed(1)} s)`;
    if (last.kind === "not-found") {
      throw new CliError(Exit.NotFound, `the daemon has no health status for service ${JSON.stringify(service)}; it answers for ${NAMES}`);
    }
    if (last.kind === "unreachable") throw new CliError(Exit.Unreachable, `cannot reach ${where} (${last.details})${waitedText}`);
    if (last.kind === "other") {
      const what =
        last.code === status.UNIMPLEMENTED ? "does not serve grpc.health.v1.Health (a tether older than this CLI?)" : `answered ${status[last.code] ?? last.code}: ${last.details}`;
      throw new CliError(Exit.Failure, `${who} ${what}`);
    }
    const result = { service, status: last.status, via: target.via, address: target.address, ...(last.reason ? { reason: last.reason } : {}), ...waited };
    emit(io, json, result, () => `${last.status}${last.reason ? `: ${last.reason}` : ""}\n`);
    return last.status === "SERVING" ? Exit.Ok : Exit.Failure;
  },
};
