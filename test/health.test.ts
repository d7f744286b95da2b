/**
 * Health and reflection (docs/operations.md, "Health and reflection"; docs/security.md row 51),
 * against real daemons: the standard grpc.health.v1.Health service (Check, Watch) on the node
 * listener, asked with no client certificate, and on the admin socket; SERVING only while the
 * store is writable and the CA, server and signer certificates are valid by the daemon's
 * clock; NOT_SERVING, pushed to watchers, after a failed store write and from the start of a
 * stop. Server reflection: always on the socket; on the listener only with --reflection, and
 * never the Admin service there. `tether health` and its exit codes, `--wait` against a
 * daemon that starts late, and an off-the-shelf client: Debian's python3-grpcio with stubs
 * generated from Debian's standard health.proto and reflection.proto.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Metadata, credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import type { ChannelCredentials, Client, ClientDuplexStream, ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProto } from "grpc-health-check";
import { FAULT_FILE_ENV } from "@tether/store";
import { HEALTH_REASON_HEADER } from "@tether/wire";
import { MAX_LISTENER_WATCHES_PER_ADDRESS } from "../packages/daemon/src/probes.ts";
import { readiness } from "../packages/daemon/src/readiness.ts";
import { ROOT, admin, cliInProcess, mintCode, startDaemonProcess, startTestDaemon, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const H = suite("health and reflection");
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon };

H.before(async () => {
  ctx.tmp = tempDir("tether-health-");
  ctx.d = await startTestDaemon();
});
H.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

const PYTHON = "/usr/bin/python3";
const PROBE = join(ROOT, "test", "independent", "grpc_health_probe.py");
const NAMES = ["", "tether.v1.Pairing", "tether.v1.Node", "tether.v1.Orchestrator"];

type Where = "listener" | "socket";
type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r?: { status: string }) => void) => NodeJS.EventEmitter;
type HealthClient = Client & { Check: Unary; Watch(req: unknown): NodeJS.ReadableStream & { cancel(): void } };
type Ctor<T> = new (address: string, creds: ChannelCredentials, options: object) => T;

const healthCtor = (
  loadPackageDefinition(loadSync(healthProto, { keepCase: true, enums: String, defaults: true })) as unknown as { grpc: { health: { v1: { Health: Ctor<HealthClient> } } } }
).grpc.health.v1.Health;

/** The node listener as a load balancer reaches it: TLS verified against the CA, no client certificate. */
function dial<T>(C: Ctor<T>, d: { listen: string; adminSocket: string; caPem: string }, where: Where): T {
  if (where === "socket") return new C(`unix://${d.adminSocket}`, credentials.createInsecure(), {});
  return new C(d.listen, credentials.createSsl(Buffer.from(d.caPem), null, null, { checkServerIdentity: () => undefined }), { "grpc.ssl_target_name_override": "localhost" });
}

type CheckResult = { status?: string; code?: number; details?: string; reason?: string };

/** One Check; the answer's status or error, and the reason header if any. */
async function check(d: TestDaemon, where: Where, service: string): Promise<CheckResult> {
  const c = dial(healthCtor, d, where);
  try {
    return await new Promise<CheckResult>((resolve) => {
      let reason: string | undefined;
      const call = c.Check({ service }, new Metadata(), { deadline: Date.now() + 10_000 }, (e, r) =>
        resolve(e ? { code: e.code, details: e.details, ...(reason ? { reason } : {}) } : { status: r?.status ?? "", ...(reason ? { reason } : {}) }),
      );
      call.on("metadata", (md: Metadata) => {
        const v = md.get(HEALTH_REASON_HEADER)[0];
        if (typeof v === "string") reason = v;
      });
    });
  } finally {
    c.close();
  }
}

/** A Watch stream: the statuses as they arrive, and how it ended. */
function watch(d: TestDaemon, where: Where, service = "") {
  const c = dial(healthCtor, d, where);
  const s = c.Watch({ service });
  const statuses: string[] = [];
  s.on("data", (m: { status: string }) => statuses.push(m.status));
  const ended = new Promise<{ code: number; details: string; after: string[] }>((resolve) => {
    s.on("error", (e: ServiceError) => resolve({ code: e.code, details: e.details, after: [...statuses] }));
    s.on("end", () => resolve({ code: 0, details: "", after: [...statuses] }));
  });
  return { statuses, ended, close: () => (s.cancel(), c.close()) };
}

/** The reflection protos as @grpc/reflection ships them (the Python client uses Debian's). */
const reflectionProtoDir = join(dirname(createRequire(import.meta.url).resolve("@grpc/reflection/package.json")), "build", "proto");
type ReflectionClient = Client & { ServerReflectionInfo(): ClientDuplexStream<object, ReflectionAnswer> };
const reflectionCtor = (version: "v1" | "v1alpha") =>
  (
    loadPackageDefinition(
      loadSync(`grpc/reflection/${version}/reflection.proto`, { keepCase: true, enums: String, defaults: true, oneofs: true, includeDirs: [reflectionProtoDir] }),
    ) as unknown as {
      grpc: { reflection: Record<string, { ServerReflection: Ctor<ReflectionClient> }> };
    }
  ).grpc.reflection[version]?.ServerReflection as Ctor<ReflectionClient>;

type ReflectionAnswer = {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number };
};

/** Ask reflection to list the services, then for the file of each symbol; an error status as { code }. */
async function reflect(
  d: TestDaemon,
  where: Where,
  symbols: string[] = [],
  version: "v1" | "v1alpha" = "v1",
): Promise<{ code: number } | { services: string[]; files: ReflectionAnswer[] }> {
  const c = dial(reflectionCtor(version), d, where);
  try {
    return await new Promise((resolve) => {
      const s = c.ServerReflectionInfo();
      const answers: ReflectionAnswer[] = [];
      s.on("data", (a: ReflectionAnswer) => answers.push(a));
      s.on("error", (e: ServiceError) => resolve({ code: e.code }));
      s.on("end", () => resolve({ services: (answers[0]?.list_services_response?.service ?? []).map((x) => x.name).sort(), files: answers.slice(1) }));
      s.write({ list_services: "*" });
      for (const symbol of symbols) s.write({ file_containing_symbol: symbol });
      s.end();
    });
  } finally {
    c.close();
  }
}

/** The exit code of an admin call refused by the daemon (14: the store has failed). */
const storeRefusal = (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (e: { exitCode?: number }) => e.exitCode,
  );

/** A daemon whose next store write fails (the store's fault injection, as test/store-full-disk.test.ts uses it). */
async function failingDaemon(o: { reflection?: boolean } = {}): Promise<{ d: TestDaemon; fail: () => Promise<void> }> {
  const fault = join(ctx.tmp.path, `fault-${Math.random().toString(36).slice(2)}`);
  process.env[FAULT_FILE_ENV] = fault;
  let d: TestDaemon;
  try {
    d = await startTestDaemon(o);
  } finally {
    delete process.env[FAULT_FILE_ENV]; // the store read it when it opened
  }
  return {
    d,
    fail: async () => {
      writeFileSync(fault, "");
      assert.is(await storeRefusal(mintCode(d)), 14, "the write failed (exit 14: the store)");
    },
  };
}

H("Check over the listener with no client certificate and over the admin socket: SERVING under every service name; Admin on the socket only; unknown names NOT_FOUND", async () => {
  for (const where of ["listener", "socket"] as const) {
    for (const name of NAMES) assert.equal(await check(ctx.d, where, name), { status: "SERVING" }, `${where} ${JSON.stringify(name)}`);
    for (const bogus of ["tether.v1.Nope", "tether.v1.pairing", " ", "x".repeat(10_000)]) {
      const r = await check(ctx.d, where, bogus);
      assert.is(r.code, status.NOT_FOUND, `${where} ${bogus.slice(0, 20)}`);
    }
  }
  assert.equal(await check(ctx.d, "socket", "tether.v1.Admin"), { status: "SERVING" });
  assert.is((await check(ctx.d, "listener", "tether.v1.Admin")).code, status.NOT_FOUND, "the listener does not name the Admin service");
  assert.equal(ctx.d.readiness(), { ready: true, reason: "ok" });
});

H("Watch answers at once with the status, and SERVICE_UNKNOWN for an unknown name, on both", async () => {
  for (const where of ["listener", "socket"] as const) {
    const w = watch(ctx.d, where);
    const u = watch(ctx.d, where, "tether.v1.Nope");
    await waitFor(() => w.statuses.length > 0 && u.statuses.length > 0, `${where} watch answers`);
    assert.equal(w.statuses, ["SERVING"]);
    assert.equal(u.statuses, ["SERVICE_UNKNOWN"]);
    await sleep(1_300); // past a refresh: nothing changed, nothing is sent again
    assert.equal(w.statuses, ["SERVING"], "no repeat while nothing changes");
    w.close();
    u.close();
  }
});

H("the listener holds at most 16 Watch streams per address (RESOURCE_EXHAUSTED beyond); a closed one frees its place; the socket and Check are not limited", async () => {
  const open = Array.from({ length: MAX_LISTENER_WATCHES_PER_ADDRESS }, () => watch(ctx.d, "listener"));
  await waitFor(() => open.every((w) => w.statuses.length === 1), "16 watchers' first answer");
  const over = watch(ctx.d, "listener");
  const refused = await over.ended;
  assert.is(refused.code, status.RESOURCE_EXHAUSTED);
  assert.match(refused.details, /^TOO_MANY_WATCHES: at most 16 health Watch streams per address/);
  assert.equal(refused.after, []);
  over.close();
  assert.equal(await check(ctx.d, "listener", ""), { status: "SERVING" }, "Check still answers");
  const socket = Array.from({ length: MAX_LISTENER_WATCHES_PER_ADDRESS + 4 }, () => watch(ctx.d, "socket"));
  await waitFor(() => socket.every((w) => w.statuses.length === 1), "the socket's watchers");
  open.shift()?.close();
  const again = await waitFor(async () => {
    const w = watch(ctx.d, "listener");
    await Promise.race([w.ended, waitFor(() => w.statuses.length === 1, "answer", 5000)]);
    if (w.statuses.length === 1) return w;
    w.close();
    return undefined;
  }, "a place freed by the cancelled watcher");
  assert.equal(again.statuses, ["SERVING"]);
  for (const w of [...open, ...socket, again]) w.close();
});

H("a failed store write flips every watcher to NOT_SERVING at once; Check answers NOT_SERVING, not UNAVAILABLE; the socket says why, the listener only the status", async () => {
  const { d, fail } = await failingDaemon();
  try {
    const watchers = (["listener", "socket"] as const).flatMap((where) => [watch(d, where), watch(d, where, "tether.v1.Pairing")]);
    await waitFor(() => watchers.every((w) => w.statuses.length === 1), "watchers' first answer");
    await fail();
    // pushed by the failure itself, not by the next once-a-second refresh
    await waitFor(() => watchers.every((w) => w.statuses.length === 2), "NOT_SERVING pushed", 900);
    for (const w of watchers) assert.equal(w.statuses, ["SERVING", "NOT_SERVING"]);
    const r = d.readiness();
    assert.is(r.ready, false);
    assert.match(r.reason, /a store write failed/);
    for (const name of NAMES) {
      assert.equal(await check(d, "listener", name), { status: "NOT_SERVING" }, `listener ${name}: a status only`);
      assert.equal(await check(d, "socket", name), { status: "NOT_SERVING", reason: r.reason }, `socket ${name}`);
    }
    // everything else is still refused, as before (Admin.Status still answers)
    assert.is(await storeRefusal(admin(d, "ListDevices", {})), 14);
    assert.is((await admin<{ storeState: string }>(d, "Status", {})).storeState, "failed");
    const reflected = await reflect(d, "socket");
    assert.ok("services" in reflected && reflected.services.includes("tether.v1.Admin"), "reflection still answers");

    // tether health: exit 1, with the reason over the socket, the status only over the listener
    const env = { TETHER_HOME: d.dataDir };
    const sock = await cliInProcess(["health"], { env });
    assert.is(sock.code, 1, sock.stderr);
    assert.is(sock.stdout, `NOT_SERVING: ${r.reason}\n`);
    const tls = await cliInProcess(["health", "--daemon", d.listen, "--json"], { env });
    assert.is(tls.code, 1, tls.stderr);
    assert.equal(JSON.parse(tls.stdout), { service: "", status: "NOT_SERVING", via: "tls", address: d.listen });
    // --wait gives up after its time, with the last answer
    const t0 = Date.now();
    const waited = await cliInProcess(["health", "--wait", "1s", "--json"], { env });
    const took = Date.now() - t0;
    assert.is(waited.code, 1, waited.stderr);
    const j = JSON.parse(waited.stdout) as { status: string; reason: string; attempts: number; waitedMs: number };
    assert.is(j.status, "NOT_SERVING");
    assert.is(j.reason, r.reason);
    assert.ok(j.attempts >= 3 && j.waitedMs >= 1000 && took < 5000, `${j.attempts} checks in ${j.waitedMs} ms`);
    for (const w of watchers) w.close();
  } finally {
    await d.stop();
  }
});

H("a stop: NOT_SERVING to every watcher before the servers drain, then the stream ends UNAVAILABLE; readiness() says the daemon is stopping", async () => {
  const d = await startTestDaemon();
  const watchers = (["listener", "socket"] as const).map((where) => watch(d, where));
  await waitFor(() => watchers.every((w) => w.statuses.length === 1), "watchers' first answer");
  const closing = d.close("test");
  // at once, before the first server has begun to drain
  assert.equal(d.readiness(), { ready: false, reason: "the daemon is stopping" });
  const ends = await Promise.all(watchers.map((w) => w.ended));
  for (const e of ends) {
    assert.equal(e.after, ["SERVING", "NOT_SERVING"]);
    // ended by the daemon, not cut by the forced shutdown of a server that waited for it
    assert.equal({ code: e.code, details: e.details }, { code: status.UNAVAILABLE, details: "the daemon is stopping" });
  }
  await closing;
  for (const w of watchers) w.close();
  await d.stop();
});

H("certificates outside their window by the daemon's clock: NOT_SERVING with the reason, SERVING again once back inside", async () => {
  let skew = 0;
  const d = await startTestDaemon({ now: () => Date.now() + skew });
  try {
    const w = watch(d, "listener");
    await waitFor(() => w.statuses.length === 1, "first answer");
    skew = 91 * 24 * 60 * 60_000; // past the 90-day server and signer certificates
    const late = await check(d, "socket", "");
    assert.is(late.status, "NOT_SERVING");
    assert.match(late.reason ?? "", /^the server certificate expired at \d{4}-.*; the signer certificate expired at /);
    await waitFor(() => w.statuses.length === 2, "the watcher told within a refresh", 3000);
    skew = -2 * 24 * 60 * 60_000; // before every certificate's notBefore
    assert.match((await check(d, "socket", "")).reason ?? "", /^the CA certificate is not valid until /);
    skew = 0;
    assert.equal(await check(d, "socket", ""), { status: "SERVING" });
    await waitFor(() => w.statuses.length === 3, "SERVING again, pushed", 3000);
    assert.equal(w.statuses, ["SERVING", "NOT_SERVING", "SERVING"]);
    w.close();
  } finally {
    await d.stop();
  }
});

H("readiness() is a pure function of the store, the stop and the certificate windows", () => {
  const certs = [{ name: "server", notBefore: 1000, notAfter: 2000 }];
  assert.equal(readiness({ storeFailed: false, closing: false, certs, now: 1000 }), { ready: true, reason: "ok" });
  assert.equal(readiness({ storeFailed: false, closing: false, certs, now: 1999 }), { ready: true, reason: "ok" });
  assert.is(readiness({ storeFailed: false, closing: false, certs, now: 2000 }).reason, "the server certificate expired at 1970-01-01T00:00:02.000Z");
  assert.is(readiness({ storeFailed: false, closing: false, certs, now: 999 }).reason, "the server certificate is not valid until 1970-01-01T00:00:01.000Z");
  assert.is(readiness({ storeFailed: false, closing: false, certs: [{ name: "CA", notBefore: NaN, notAfter: NaN }], now: 1500 }).ready, false, "an unreadable date is never valid");
  const all = readiness({ storeFailed: true, closing: true, certs, now: 5000 });
  assert.is(all.ready, false);
  assert.is(all.reason.split("; ").length, 3, all.reason);
});

H("reflection on the admin socket lists Admin, Orchestrator and health, over v1 and v1alpha", async () => {
  for (const version of ["v1", "v1alpha"] as const) {
    const r = await reflect(ctx.d, "socket", ["tether.v1.Admin"], version);
    assert.ok("services" in r, JSON.stringify(r));
    assert.equal(r.services, ["grpc.health.v1.Health", "tether.v1.Admin", "tether.v1.Orchestrator"], version);
    assert.ok(r.files[0]?.file_descriptor_response?.file_descriptor_proto.length, "Admin described");
  }
});

H("reflection on the listener is UNIMPLEMENTED by default", async () => {
  for (const version of ["v1", "v1alpha"] as const) assert.equal(await reflect(ctx.d, "listener", [], version), { code: status.UNIMPLEMENTED }, version);
});

H("with --reflection the listener lists Pairing, Node and Orchestrator, never Admin, and cannot describe Admin", async () => {
  const d = await startTestDaemon({ reflection: true });
  try {
    for (const version of ["v1", "v1alpha"] as const) {
      const r = await reflect(d, "listener", ["tether.v1.Admin", "tether.v1.ApproveRequestRequest", "tether.v1.Pairing"], version);
      assert.ok("services" in r, JSON.stringify(r));
      assert.equal(r.services, ["grpc.health.v1.Health", "tether.v1.Node", "tether.v1.Orchestrator", "tether.v1.Pairing"], version);
      assert.is(r.files[0]?.error_response?.error_code, status.NOT_FOUND, "Admin is not described");
      assert.is(r.files[1]?.error_response?.error_code, status.NOT_FOUND, "nor its messages");
      const pairing = r.files[2]?.file_descriptor_response?.file_descriptor_proto ?? [];
      assert.ok(pairing.length > 0, "Pairing described");
      // the file that describes the listener's services holds nothing of admin.proto
      for (const f of pairing) assert.not.match(f.toString("latin1"), /Admin|ApproveRequest|CreateCode/);
    }
    // the socket still has all of it
    const s = await reflect(d, "socket");
    assert.ok("services" in s && s.services.includes("tether.v1.Admin"));
  } finally {
    await d.stop();
  }
});

H("tether health: exit 0 SERVING, 4 for an unknown service, 3 when nothing answers; --json; over the socket and the listener", async () => {
  const env = { TETHER_HOME: ctx.d.dataDir };
  const ok = await cliInProcess(["health"], { env });
  assert.equal(ok, { code: 0, stdout: "SERVING\n", stderr: "" });
  const j = await cliInProcess(["health", "--service", "tether.v1.Admin", "--json"], { env });
  assert.is(j.code, 0, j.stderr);
  assert.equal(JSON.parse(j.stdout), { service: "tether.v1.Admin", status: "SERVING", via: "socket", address: ctx.d.adminSocket });
  // the listener: the data directory's CA by default, or --ca
  const tls = await cliInProcess(["health", "--daemon", ctx.d.listen, "--service", "tether.v1.Node"], { env });
  assert.equal(tls, { code: 0, stdout: "SERVING\n", stderr: "" });
  const caFile = join(ctx.tmp.path, "ca.pem");
  writeFileSync(caFile, ctx.d.caPem);
  const withCa = await cliInProcess(["health", "--daemon", ctx.d.listen, "--ca", caFile, "--json"], { env: {} });
  assert.is(withCa.code, 0, withCa.stderr);
  assert.is((JSON.parse(withCa.stdout) as { status: string }).status, "SERVING");

  for (const args of [
    ["--service", "tether.v1.Nope"],
    ["--daemon", ctx.d.listen, "--service", "tether.v1.Admin"],
  ]) {
    const r = await cliInProcess(["health", ...args], { env });
    assert.is(r.code, 4, r.stderr);
    assert.match(r.stderr, /has no health status for service "tether\.v1\.(Nope|Admin)"; it answers for "" \(the daemon as a whole\), tether\.v1\.Pairing/);
    assert.is(r.stdout, "");
  }
  const gone = join(ctx.tmp.path, "no-daemon");
  const none = await cliInProcess(["health", "--data-dir", gone], { env: {} });
  assert.is(none.code, 3);
  assert.match(none.stderr, `cannot reach the daemon's admin socket ${join(gone, "admin.sock")}`);
  const noneJson = await cliInProcess(["health", "--data-dir", gone, "--json"], { env: {} });
  assert.is(noneJson.code, 3);
  assert.is((JSON.parse(noneJson.stderr) as { error: { exitCode: number } }).error.exitCode, 3);
  const refused = await cliInProcess(["health", "--daemon", "127.0.0.1:1", "--ca", caFile], { env: {} });
  assert.is(refused.code, 3);
  assert.match(refused.stderr, "cannot reach the daemon's node listener at 127.0.0.1:1 (connect ECONNREFUSED");
});

H("tether health --daemon verifies the daemon: another CA's certificate is exit 3 and names the failure", async () => {
  const other = await startTestDaemon();
  try {
    const caFile = join(ctx.tmp.path, "other-ca.pem");
    writeFileSync(caFile, other.caPem);
    const r = await cliInProcess(["health", "--daemon", ctx.d.listen, "--ca", caFile], { env: {} });
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, `cannot reach the daemon's node listener at ${ctx.d.listen}`);
    assert.match(r.stderr, /certificate/i);
    assert.is(r.stdout, "");
  } finally {
    await other.stop();
  }
});

H("tether health: bad usage is exit 2 with a clear message, before any check", async () => {
  const notPem = join(ctx.tmp.path, "not-a-cert.pem");
  writeFileSync(notPem, "hello\n");
  const emptyDir = join(ctx.tmp.path, "empty");
  const env = { TETHER_HOME: ctx.d.dataDir };
  const cases: [string[], RegExp | string][] = [
    [["--ca", notPem], "--ca is for --daemon HOST:PORT"],
    [["--daemon", "localhost"], '--daemon must be HOST:PORT (IPv6 as [ADDR]:PORT), got "localhost"'],
    [["--daemon", "127.0.0.1:70000"], "--daemon must be HOST:PORT"],
    [["--daemon", "127.0.0.1:7443", "--data-dir", emptyDir], `no CA certificate to verify the daemon with: ${join(emptyDir, "ca", "ca.pem")} does not exist; give --ca FILE`],
    [["--daemon", "127.0.0.1:7443", "--ca", join(emptyDir, "nope.pem")], /cannot read the CA certificate .*nope\.pem: ENOENT/],
    [["--daemon", "127.0.0.1:7443", "--ca", notPem], "is not a PEM certificate"],
    [["--timeout", "0"], '--timeout must be a duration like 500ms, 5s or 2m, from 1ms to 10m, not "0"'],
    [["--timeout", "11m"], "--timeout must be a duration"],
    [["--timeout", "soon"], "--timeout must be a duration"],
    [["--wait", "25h"], '--wait must be a duration like 500ms, 5s or 2m, from 0 to 24h, not "25h"'],
    [["--wait=-1s"], "--wait must be a duration"],
    [["--wait"], "--wait needs a value"],
    [["extra"], 'unexpected argument "extra": tether health takes no arguments'],
  ];
  for (const [args, message] of cases) {
    const r = await cliInProcess(["health", ...args], { env });
    assert.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.is(r.stdout, "");
  }
  assert.not.ok(existsSync(emptyDir), "nothing was created");
});

H("tether health --wait: a daemon that starts late (tether daemon --reflection, another process) is waited for, exit 0; its listener lists no Admin", async () => {
  const data = join(ctx.tmp.path, "late");
  const t0 = Date.now();
  const waiting = cliInProcess(["health", "--wait", "60s", "--data-dir", data, "--json"], { env: {} });
  await sleep(1_500);
  const { d, ready } = await startDaemonProcess(data, ["--reflection"]);
  try {
    const r = await waiting;
    assert.is(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { status: string; attempts: number; waitedMs: number };
    assert.is(j.status, "SERVING");
    assert.ok(j.attempts >= 4 && j.waitedMs >= 1_500 && Date.now() - t0 < 60_000, `${j.attempts} checks in ${j.waitedMs} ms`);
    const listed = await reflect({ listen: ready.listen, adminSocket: ready.adminSocket, caPem: readFileSync(join(data, "ca", "ca.pem"), "utf8") } as TestDaemon, "listener");
    assert.ok("services" in listed, JSON.stringify(listed));
    assert.equal(listed.services, ["grpc.health.v1.Health", "tether.v1.Node", "tether.v1.Orchestrator", "tether.v1.Pairing"]);
  } finally {
    assert.is(await stopDaemonProcess(d), 0);
  }
});

/** The Python client (one JSON object a line); `lines` fills as they come. */
function python(args: string[]) {
  const child = spawn(PYTHON, [PROBE, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: Record<string, unknown>[] = [];
  let buf = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => {
    buf += b.toString("utf8");
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    for (const p of parts) if (p) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
  const exited = new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  return { lines, err: () => err, exited, kill: () => child.kill() };
}

H(
  "an off-the-shelf client (Python grpcio, stubs from Debian's health.proto): Check, Watch and reflection over the TLS listener and the Unix socket; a store failure reaches its watchers",
  async () => {
    assert.ok(existsSync(PYTHON), `${PYTHON} is needed (apt-get install python3 python3-grpcio python3-grpc-tools grpc-proto; test/ensure-tools.sh)`);
    const { d, fail } = await failingDaemon({ reflection: true });
    const caFile = join(ctx.tmp.path, "py-ca.pem");
    writeFileSync(caFile, d.caPem);
    const tls = [d.listen, "--ca", caFile];
    const unix = [`unix:${d.adminSocket}`];
    const procs: ReturnType<typeof python>[] = [];
    const run = async (args: string[]) => {
      const p = python(args);
      procs.push(p);
      const code = await p.exited;
      assert.is(code, 0, `python ${args.join(" ")}: ${p.err()}`);
      return p.lines;
    };
    try {
      const [a, b, c, e, f, g] = await Promise.all([
        run([...tls, "check"]),
        run([...tls, "--service", "tether.v1.Orchestrator", "check"]),
        run([...tls, "--service", "tether.v1.Admin", "check"]),
        run([...unix, "--service", "tether.v1.Admin", "check"]),
        run([...tls, "reflect", "--describe", "tether.v1.Admin", "--describe", "tether.v1.Pairing"]),
        run([...unix, "reflect", "--describe", "tether.v1.Admin"]),
      ]);
      assert.equal(a, [{ status: "SERVING" }]);
      assert.equal(b, [{ status: "SERVING" }]);
      assert.is(c[0]?.code, "NOT_FOUND");
      assert.equal(e, [{ status: "SERVING" }]);
      assert.equal(f, [
        { services: ["grpc.health.v1.Health", "tether.v1.Node", "tether.v1.Orchestrator", "tether.v1.Pairing"] },
        { symbol: "tether.v1.Admin", found: false, error: "NOT_FOUND" },
        { symbol: "tether.v1.Pairing", found: true, services: ["tether.v1.Node", "tether.v1.Orchestrator", "tether.v1.Pairing"] },
      ]);
      assert.equal(g[0], { services: ["grpc.health.v1.Health", "tether.v1.Admin", "tether.v1.Orchestrator"] });
      assert.equal(g[1]?.found, true);

      // Watch from Python on both; the store fails; both hear NOT_SERVING; then the stop ends them
      const watchers = [python([...tls, "watch"]), python([...unix, "--service", "tether.v1.Admin", "watch"])];
      procs.push(...watchers);
      await waitFor(() => watchers.every((w) => w.lines.length === 1), `Python watchers' first answer (${watchers.map((w) => w.err()).join(" ")})`, 30_000);
      await fail();
      await waitFor(() => watchers.every((w) => w.lines.length === 2), "NOT_SERVING at the Python watchers");
      await d.close("test");
      for (const w of watchers) {
        assert.is(await w.exited, 0, w.err());
        assert.equal(w.lines, [{ status: "SERVING" }, { status: "NOT_SERVING" }, { end: "UNAVAILABLE", details: "the daemon is stopping" }]);
      }
    } finally {
      for (const p of procs) p.kill();
      await d.stop();
      rmSync(caFile, { force: true });
    }
  },
);

H.run();
