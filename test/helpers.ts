/**
 * Test harness: real daemons on port 0 in fresh temp directories (in-process or as a child
 * process through bin/tether), the admin socket, a raw Pairing client for hostile messages,
 * and the CLI run as a child process. Everything started here is torn down by the caller.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Metadata, credentials, loadPackageDefinition } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { admin as adminCall } from "../packages/cli/src/cli.ts";
import { main } from "../packages/cli/src/main.ts";
import {
  PAIR_PROTOCOL_VERSION,
  derivePrs,
  fingerprintBytes,
  identityFromSeed,
  identitySign,
  nodeComplete,
  nodeShare,
  nodeSignedMessage,
  shareCommitment,
  parsePin,
} from "@tether/crypto";
import type { PairMethod, SessionKeys } from "@tether/crypto";
import { createLogger, resolveDaemonConfig, startDaemon } from "@tether/daemon";
import type { LevelLogger, RunningDaemon } from "@tether/daemon";
import type { PairingConfig } from "@tether/pairing";
import type { JobConfig } from "@tether/jobs";
import { tetherPackageDefinition } from "@tether/wire";
import type { CreateCodeResponse, RevealResponse, StartResponse } from "@tether/wire";
import { X509Certificate, createHash } from "node:crypto";

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const BIN = join(ROOT, "bin", "tether");

export function tempDir(prefix = "tether-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** `logs` holds every line written at `log`'s level (from $TETHER_LOG_LEVEL; `log.setLevel` changes it). */
export type TestDaemon = RunningDaemon & { dataDir: string; logs: string[]; log: LevelLogger; stop(): Promise<void> };

/** A real daemon in this process: real TLS listener on 127.0.0.1:0, real LevelDB, real socket. */
export async function startTestDaemon(
  o: {
    dataDir?: string;
    pairing?: Partial<PairingConfig>;
    now?: () => number;
    startRateLimit?: { burst: number; perSecond: number };
    jobs?: Partial<JobConfig>;
    registrationTimeoutMs?: number;
    listen?: string;
    indexUpdateDelayMs?: number;
    nodeCertLifetimeMs?: number;
    renewalOverlapMs?: number;
    /** server reflection on the node listener too (`tether daemon --reflection`) */
    reflection?: boolean;
    /** HOST:PORT for --metrics (e.g. 127.0.0.1:0) */
    metrics?: string;
    /** --store (a PostgreSQL URL) and --kek-file */
    store?: string;
    kekFile?: string;
  } = {},
): Promise<TestDaemon> {
  const dir = o.dataDir ? undefined : tempDir();
  const dataDir = o.dataDir ?? join((dir as { path: string }).path, "data");
  const logs: string[] = [];
  const log = createLogger((l) => logs.push(l));
  const config = {
    dataDir,
    listen: o.listen ?? "127.0.0.1:0",
    ...(o.nodeCertLifetimeMs ? { nodeCertLifetimeMs: o.nodeCertLifetimeMs } : {}),
    ...(o.reflection ? { reflection: true } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.store ? { store: o.store } : {}),
    ...(o.kekFile ? { kekFile: o.kekFile } : {}),
  };
  const d = await startDaemon(resolveDaemonConfig(config), {
    log,
    // Tests hammer Start from one address; the limiter has its own test.
    startRateLimit: o.startRateLimit ?? { burst: 10_000, perSecond: 10_000 },
    ...(o.pairing ? { pairing: o.pairing } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.jobs ? { jobs: o.jobs } : {}),
    ...(o.registrationTimeoutMs ? { registrationTimeoutMs: o.registrationTimeoutMs } : {}),
    ...(o.indexUpdateDelayMs ? { indexUpdateDelayMs: o.indexUpdateDelayMs } : {}),
    ...(o.renewalOverlapMs ? { renewalOverlapMs: o.renewalOverlapMs } : {}),
  });
  return {
    ...d,
    dataDir,
    logs,
    log,
    stop: async () => {
      await d.close();
      dir?.remove();
    },
  };
}

export function admin<T>(d: { dataDir: string }, method: string, req: object = {}): Promise<T> {
  return adminCall<T>(d.dataDir, method, req);
}

export function mintCode(d: { dataDir: string }, method: PairMethod = "pin", ttlSeconds = 0): Promise<CreateCodeResponse> {
  return admin<CreateCodeResponse>(d, "CreateCode", { method, ttlSeconds });
}

type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
export type RawPairing = Client & { Start: Unary; Reveal: Unary; Finish: Unary; Return: Unary; Await: (req: unknown) => NodeJS.ReadableStream };

/** A Pairing client that sends whatever it is given (TLS, server certificate not checked). */
export function rawPairing(address: string, options: object = {}): RawPairing {
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as {
    tether: { v1: { Pairing: new (a: string, c: ReturnType<typeof credentials.createSsl>, o: object) => RawPairing } };
  };
  return new pkg.tether.v1.Pairing(address, credentials.createSsl(null, null, null, { rejectUnauthorized: false }), {
    "grpc.ssl_target_name_override": "localhost",
    ...options,
  });
}

export function call<T>(c: RawPairing, method: "Start" | "Reveal" | "Finish" | "Return", req: object): Promise<T> {
  return new Promise((resolve, reject) => (c[method] as Unary).call(c, req, new Metadata(), { deadline: Date.now() + 20_000 }, (e, r) => (e ? reject(e) : resolve(r as T))));
}

/** Expect a gRPC call to fail with `code`; returns the error's details. */
export async function expectStatus(p: Promise<unknown>, code: number): Promise<string> {
  try {
    await p;
  } catch (e) {
    const err = e as ServiceError;
    if (err.code !== code) throw new Error(`expected gRPC status ${code}, got ${err.code}: ${err.details}`, { cause: e });
    return err.details;
  }
  throw new Error(`expected gRPC status ${code}, but the call succeeded`);
}

export type NodeKeys = { seed: Uint8Array; identityKey: Uint8Array; secretKey: Uint8Array; tlsPublicKey: Uint8Array };

export function nodeKeys(): NodeKeys {
  const seed = new Uint8Array(randomBytes(32));
  const { publicKey, secretKey } = identityFromSeed(seed);
  const { publicKey: tls } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { seed, identityKey: publicKey, secretKey, tlsPublicKey: new Uint8Array(tls.export({ type: "spki", format: "der" })) };
}

export type CodeParts = { method: PairMethod; selector: string; secret: Uint8Array | string };

export function pinParts(code: string): CodeParts & { secret: string } {
  const { selector, secret } = parsePin(code);
  return { method: "pin", selector, secret };
}

/**
 * The node's half of a handshake (Start, then Reveal), so tests can tamper with any field.
 * `over` replaces StartRequest fields; `reveal: false` stops after Start.
 */
export async function handshakeStart(
  c: RawPairing,
  code: CodeParts,
  keys: NodeKeys = nodeKeys(),
  over: Record<string, unknown> = {},
  opts: { reveal?: boolean } = {},
): Promise<{
  start: StartResponse;
  reveal: RevealResponse;
  keys: NodeKeys;
  session: SessionKeys;
  request: Record<string, unknown>;
  ya: Uint8Array;
}> {
  const sid = new Uint8Array(randomBytes(16));
  const scalar = new Uint8Array(randomBytes(32));
  const prs = derivePrs(code.method, code.selector, code.secret);
  const ya = nodeShare(prs, code.method, code.selector, sid, scalar);
  const request = {
    version: PAIR_PROTOCOL_VERSION,
    method: code.method,
    selector: code.selector,
    sid,
    commitment: shareCommitment(sid, ya),
    identityKey: keys.identityKey,
    tlsPublicKey: keys.tlsPublicKey,
    name: "test-node",
    role: "node",
    ...over,
  };
  const start = await call<StartResponse>(c, "Start", request);
  const ca = new X509Certificate(start.caCertificate);
  const fp = createHash("sha256")
    .update(ca.publicKey.export({ type: "spki", format: "der" }))
    .digest("hex");
  const session = nodeComplete(
    {
      method: code.method,
      selector: code.selector,
      sid,
      ya,
      yb: start.yb,
      claims: { identityKey: keys.identityKey, tlsPublicKey: keys.tlsPublicKey, name: request.name as string, role: "node" },
      caCertDer: start.caCertificate,
      caFingerprint: fingerprintBytes(fp),
      signerCertDer: start.signerCertificate,
    },
    scalar,
  );
  const reveal =
    opts.reveal === false ? { daemonConfirmation: Buffer.alloc(0), daemonSignature: Buffer.alloc(0) } : await call<RevealResponse>(c, "Reveal", { sessionId: start.sessionId, ya });
  return { start, reveal, keys, session, request, ya };
}

/** Step 2, honest unless told otherwise. */
export function handshakeFinish(c: RawPairing, h: { start: StartResponse; keys: NodeKeys; session: SessionKeys }, over: Record<string, unknown> = {}) {
  return call<{ requestId: string; deviceId: string; expiresAt: number }>(c, "Finish", {
    sessionId: h.start.sessionId,
    nodeConfirmation: h.session.nodeConfirmation,
    nodeSignature: identitySign(h.keys.secretKey, nodeSignedMessage(h.session.th)),
    ...over,
  });
}

/** The environment for a child CLI: ours plus `extra`, without FORCE_COLOR (uvu sets it; with NO_COLOR, Node warns). */
function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { FORCE_COLOR: _f, ...rest } = process.env;
  return { ...rest, ...extra };
}

export type CliResult = { code: number | null; stdout: string; stderr: string };

/** Run bin/tether as a child process. */
export function cli(args: string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(o.env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const t = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 60_000);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

export type InProcessResult = { code: number; stdout: string; stderr: string };

/**
 * The CLI in this process (a child process costs over a second of CPU under tsx): exit code,
 * stdout, stderr. `onErr` sees each stderr write as it happens, and all of stderr so far.
 */
export async function cliInProcess(args: string[], o: { env?: NodeJS.ProcessEnv; onErr?: (written: string, all: string) => void } = {}): Promise<InProcessResult> {
  let stdout = "";
  let stderr = "";
  const err = (s: string) => {
    stderr += s;
    o.onErr?.(s, stderr);
  };
  const code = await main(args, { out: (s) => (stdout += s), err, env: o.env ?? {} });
  return { code, stdout, stderr };
}

/** Start a long-running CLI process (daemon or waiting node) and collect its output. */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(env), stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  if (input !== undefined) child.stdin?.end(input);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  return { child, out: () => out, err: () => err, exited };
}

/** Poll until `fn` returns a truthy value or the time runs out. */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Pair a real node through the SDK with a fresh PIN and approve it over the admin socket. */
export async function pairDevice(d: { dataDir: string; listen: string }, stateDir: string, o: { role?: "node" | "orchestrator"; name?: string } = {}): Promise<string> {
  const { pair } = await import("@tether/node");
  const code = await mintCode(d);
  const result = pair({
    daemon: d.listen,
    pin: code.code,
    name: o.name ?? "fleet-node",
    role: o.role ?? "node",
    stateDir,
    onVerificationCode: (_c, info) => {
      void admin(d, "ApproveRequest", { id: info.requestId, role: "" });
    },
  });
  return (await result).deviceId;
}

type NodeStream = NodeJS.ReadableStream & NodeJS.WritableStream & { write(m: object): boolean; end(): void; cancel(): void };
type RawNodeClient = Client & {
  Connect(): NodeStream;
  Renew(req: object, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void): void;
};

/** A raw Node client with the credentials in `stateDir` (or given ones), optionally trusting another CA. */
export async function rawNodeClient(address: string, stateDir: string | { caPem: string; certPem: string; keyPem: string }, trustCaPem?: string): Promise<RawNodeClient> {
  const { loadCredentials } = await import("@tether/node");
  const loaded = typeof stateDir === "string" ? loadCredentials(stateDir) : undefined;
  const c = loaded ? { caPem: loaded.caPem, certPem: loaded.certPem, keyPem: loaded.keyPem.expose() } : (stateDir as { caPem: string; certPem: string; keyPem: string });
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as {
    tether: { v1: { Node: new (a: string, cr: ReturnType<typeof credentials.createSsl>, o: object) => RawNodeClient } };
  };
  const creds = credentials.createSsl(Buffer.from(trustCaPem ?? c.caPem), Buffer.from(c.keyPem), Buffer.from(c.certPem), { checkServerIdentity: () => undefined });
  return new pkg.tether.v1.Node(address, creds, { "grpc.ssl_target_name_override": "localhost" });
}

/** A raw Node.Connect stream with the credentials in `stateDir` (or given ones), for hostile messages. */
export async function rawNodeStream(address: string, stateDir: string, trustCaPem?: string): Promise<{ stream: NodeStream; close: () => void }> {
  const client = await rawNodeClient(address, stateDir, trustCaPem);
  const stream = client.Connect();
  return { stream, close: () => client.close() };
}

/** Resolve with the status a stream ends with (code and details). */
export function streamEnd(s: NodeJS.ReadableStream): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    s.on("error", (e: { code: number; details: string }) => resolve({ code: e.code, details: e.details }));
    s.on("end", () => resolve({ code: 0, details: "end" }));
  });
}

export type Ready = { listen: string; advertise: string; adminSocket: string; caFingerprint: string; dataDir: string; pid: number; metrics?: string };

/** `tether daemon` as a child process; resolves once it printed its ready line. */
export async function startDaemonProcess(data: string, extra: string[] = [], listen = "127.0.0.1:0", env: NodeJS.ProcessEnv = {}) {
  return startDaemonWith(["--data-dir", data, "--listen", listen, ...extra], env);
}

/** `tether daemon --json ARGS` as a child process, with exactly these flags; resolves once it printed its ready line. */
export async function startDaemonWith(args: string[], env: NodeJS.ProcessEnv = {}) {
  const d = spawnCli(["daemon", "--json", ...args], env);
  const line = await waitFor(
    () =>
      d
        .out()
        .split("\n")
        .find((l) => l.includes('"ready"')) ?? (d.child.exitCode !== null ? "exited" : undefined),
    `daemon ready (stderr: ${d.err()})`,
    30_000,
  );
  if (line === "exited") throw new Error(`daemon exited: ${d.err()}`);
  return { d, ready: JSON.parse(line) as Ready };
}

export async function stopDaemonProcess(d: ReturnType<typeof spawnCli>, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return d.child.exitCode;
  d.child.kill(signal);
  return d.exited;
}

/** `tether node pair` as a child process, approved with `tether pair approve`. */
export async function cliPair(dataDir: string, args: string[], stateDir: string, approveArgs: string[] = []) {
  const node = spawnCli(["node", "pair", ...args, "--state-dir", stateDir, "--json"]);
  const waiting = await waitFor(
    () =>
      node
        .err()
        .split("\n")
        .find((l) => l.includes("awaiting_approval")) ?? (node.child.exitCode !== null ? "exited" : undefined),
    `node to wait for approval (stderr: ${node.err()})`,
  );
  if (waiting === "exited") throw new Error(`node pair exited: ${node.err()}`);
  const { requestId, verificationCode } = JSON.parse(waiting) as { requestId: string; verificationCode: string };
  const list = await cli(["pair", "list", "--state", "pending", "--json", "--data-dir", dataDir]);
  const listed = (JSON.parse(list.stdout) as { id: string; verificationCode: string; keyFingerprint: string }[]).find((r) => r.id === requestId);
  const ap = await cli(["pair", "approve", requestId, "--json", "--data-dir", dataDir, ...approveArgs]);
  if (ap.code !== 0) throw new Error(`approve failed: ${ap.stderr}`);
  const code = await node.exited;
  if (code !== 0) throw new Error(`node pair exited ${code}: ${node.err()}`);
  const result = JSON.parse(node.out()) as { deviceId: string; role: string; caFingerprint: string; certificateNotAfter: string };
  return { result, requestId, verificationCode, listed };
}

// --- loopback source addresses (h1-audit-flood) ---

/**
 * A TCP forwarder listening on 127.0.0.1 whose connections reach `target` ("host:port")
 * from the source address `source()` gives for each (Linux routes all of 127.0.0.0/8 to
 * loopback): other caller addresses for the daemon's per-address limits, on one machine.
 */
export async function loopbackForwarder(target: string, source: () => string): Promise<{ address: string; close(): void }> {
  const { createServer, connect } = await import("node:net");
  const i = target.lastIndexOf(":");
  const sockets = new Set<import("node:net").Socket>();
  const server = createServer((inbound) => {
    const out = connect({ host: target.slice(0, i), port: Number(target.slice(i + 1)), localAddress: source() });
    sockets.add(inbound).add(out);
    inbound.pipe(out).pipe(inbound);
    const done = () => {
      inbound.destroy();
      out.destroy();
      sockets.delete(inbound);
      sockets.delete(out);
    };
    inbound.on("error", done).on("close", done);
    out.on("error", done).on("close", done);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    address: `127.0.0.1:${(server.address() as import("node:net").AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

// --- libfaketime (separate processes on other clocks) ---

/** libfaketime's shared object, wherever Debian put it for this architecture. */
export function findLibfaketime(): string | undefined {
  for (const dir of ["/usr/lib", "/usr/lib64"]) {
    if (!existsSync(dir)) continue;
    for (const arch of readdirSync(dir)) {
      const f = join(dir, arch, "faketime", "libfaketime.so.1");
      if (existsSync(f)) return f;
    }
    const f = join(dir, "faketime", "libfaketime.so.1");
    if (existsSync(f)) return f;
  }
  return undefined;
}

/** The environment that shifts a process's wall clock by `offset` (e.g. "+5m", "+3d"); timers keep real time. */
export function fakeClock(offset: string): NodeJS.ProcessEnv {
  const lib = findLibfaketime();
  if (!lib) throw new Error("libfaketime is not installed: run test/ensure-tools.sh (apt-get install faketime)");
  return { LD_PRELOAD: lib, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: "1", FAKETIME_NO_CACHE: "1" };
}
