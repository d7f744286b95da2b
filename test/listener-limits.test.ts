/**
 * What a stranger can do to the daemon without a single valid request: ids of a megabyte in
 * every call that takes one (refused with INVALID_ARGUMENT, never echoed or logged in full).
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { connect } from "@tether/node";
import { rpc } from "../packages/cli/src/cli.ts";
import { pairDevice, rawNodeStream, startTestDaemon, streamEnd, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const MB = 1 << 20;
const HUGE_DEVICE = `dev_${"z".repeat(MB)}`;
const HUGE_JOB = `job_${"z".repeat(MB)}`;
const HUGE_REQUEST = `req_${"z".repeat(MB)}`;
/** An error's details, and every log line, must stay well under the 8 KiB metadata limit. */
const MAX_DETAILS_BYTES = 200;
const MAX_LOG_LINE_BYTES = 1024;

const ids = suite("oversized ids");
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; node: string; nodeDir: string };

ids.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: join(ctx.tmp.path, "data") });
  ctx.nodeDir = join(ctx.tmp.path, "node");
  ctx.node = await pairDevice(ctx.d, ctx.nodeDir, { name: "worker" });
});
ids.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

/** The gRPC status and details of a failed call (rpc wraps the ServiceError in a CliError). */
async function refusal(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (e) {
    const err = ((e as { cause?: unknown }).cause ?? e) as ServiceError;
    return { code: err.code, details: err.details ?? "" };
  }
  throw new Error("the call succeeded");
}

/** `p`, or a rejection after `ms` (a refusal that never arrives must fail the test, not hang it). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

function assertRefused(what: string, r: { code: number; details: string }) {
  assert.is(r.code, status.INVALID_ARGUMENT, `${what}: status ${r.code} (${r.details.slice(0, 120)})`);
  const bytes = Buffer.byteLength(r.details);
  assert.ok(bytes < MAX_DETAILS_BYTES, `${what}: details are ${bytes} bytes`);
  assert.ok(r.details.length > 0, `${what}: details say what is wrong`);
}

function assertLogsShort() {
  const long = ctx.d.logs.filter((l) => Buffer.byteLength(l) > MAX_LOG_LINE_BYTES);
  assert.equal(
    long.map((l) => l.slice(0, 160)),
    [],
    "every log line stays short",
  );
}

const socket = () => ({ kind: "socket" as const, dataDir: ctx.d.dataDir });
const orch = (method: string, req: object) => rpc("Orchestrator", socket(), method, req, 10_000);
const adm = (method: string, req: object) => rpc("Admin", socket(), method, req, 10_000);

ids("a 1 MB device id in Register is INVALID_ARGUMENT with short details, and logged short", async () => {
  const s = await rawNodeStream(ctx.d.listen, ctx.nodeDir);
  try {
    const end = within(streamEnd(s.stream), 10_000, "the stream to end");
    s.stream.write({ register: { deviceId: HUGE_DEVICE, capabilities: [], platform: "", version: "", maxConcurrency: 1 } });
    assertRefused("Register", await end);
  } finally {
    s.close();
  }
  assertLogsShort();
});

ids("a 1 MB job id in a node's update or result is ignored and logged short", async () => {
  const c = connect(ctx.nodeDir);
  c.handle("echo", (x) => x);
  await c.start();
  await c.close();
  const s = await rawNodeStream(ctx.d.listen, ctx.nodeDir);
  s.stream.on("error", () => {}); // ends with CANCELLED when we close it
  try {
    s.stream.write({ register: { deviceId: ctx.node, capabilities: [], platform: "", version: "", maxConcurrency: 1 } });
    await waitFor(() => ctx.d.hub.isOnline(ctx.node), "registered");
    const before = ctx.d.logs.length;
    s.stream.write({ update: { jobId: HUGE_JOB, state: "running" } });
    s.stream.write({ result: { jobId: HUGE_JOB, ok: true, output: Buffer.from("1"), error: "" } });
    await waitFor(() => ctx.d.logs.slice(before).filter((l) => l.includes("ignored")).length >= 2, "both reports ignored");
  } finally {
    s.close();
  }
  assertLogsShort();
});

ids("a 1 MB device id or job id in every Orchestrator call is INVALID_ARGUMENT with short details", async () => {
  const cases: [string, object][] = [
    ["Dispatch", { deviceId: HUGE_DEVICE, capability: "echo", input: Buffer.from("1"), timeoutMs: 0, idempotencyKey: "" }],
    ["Run", { deviceId: HUGE_DEVICE, capability: "echo", input: Buffer.from("1"), timeoutMs: 0, idempotencyKey: "" }],
    ["GetJob", { id: HUGE_JOB }],
    ["CancelJob", { id: HUGE_JOB, reason: "" }],
    ["ListJobs", { deviceId: HUGE_DEVICE, state: "", limit: 0 }],
  ];
  for (const [method, req] of cases) assertRefused(method, await refusal(orch(method, req)));
  const { watchJob } = await import("../packages/cli/src/cli.ts");
  assertRefused("WatchJob", await refusal(watchJob(socket(), HUGE_JOB, () => {})));
  assertLogsShort();
});

ids("a 1 MB id in every Admin call that takes one is INVALID_ARGUMENT with short details", async () => {
  const cases: [string, object][] = [
    ["GetDevice", { id: HUGE_DEVICE }],
    ["RevokeDevice", { id: HUGE_DEVICE, reason: "" }],
    ["ClearRevocation", { id: HUGE_DEVICE }],
    ["SetLabels", { id: HUGE_DEVICE, set: { a: "b" }, remove: [] }],
    ["RotateDevice", { id: HUGE_DEVICE }],
    ["RevokePreauthorization", { deviceId: HUGE_DEVICE }],
    ["Verify", { certificate: Buffer.alloc(0), token: "", audience: "", peerDeviceId: HUGE_DEVICE }],
    ["ApproveRequest", { id: HUGE_REQUEST, role: "" }],
    ["RejectRequest", { id: HUGE_REQUEST, reason: "" }],
  ];
  for (const [method, req] of cases) assertRefused(method, await refusal(adm(method, req)));
  // Nothing changed: the device is still there and not revoked.
  const dev = (await adm("GetDevice", { id: ctx.node })) as { revokedAt: number };
  assert.is(Number(dev.revokedAt), 0);
  assertLogsShort();
});

ids.run();
