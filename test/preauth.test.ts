/** Preauthorization: a factory-made identity pairs with no admin action, but never without a valid code. */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pair } from "@tether/node";
import type { NodeError } from "@tether/node";
import type { PairRequest } from "@tether/wire";
import { admin, cli, mintCode, pinParts, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon };
const R = suite("preauthorization");

R.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data` });
});
R.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

async function identity(dir: string) {
  const r = await cli(["node", "identity", "--state-dir", dir, "--json"]);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { identityKey: string; deviceId: string };
}

/** Pair without any approver: resolves only if the daemon approves by itself. */
async function pairAlone(dir: string, code: string, waitMs = 3000) {
  const stop = new AbortController();
  const t = setTimeout(() => stop.abort(), waitMs);
  try {
    return await pair({ daemon: ctx.d.listen, pin: code, name: "factory", stateDir: dir, signal: stop.signal });
  } finally {
    clearTimeout(t);
  }
}

R("a preauthorized key pairs with no admin action, once, with the preauthorized role", async () => {
  const dir = `${ctx.tmp.path}/n1`;
  const id = await identity(dir);
  const pre = await cli(["devices", "preauthorize", "--identity-key", id.identityKey, "--role", "orchestrator", "--name", "line-7", "--json", "--data-dir", ctx.d.dataDir]);
  assert.is(pre.code, 0, pre.stderr);
  assert.is((JSON.parse(pre.stdout) as { deviceId: string }).deviceId, id.deviceId);
  const r = await pairAlone(dir, (await mintCode(ctx.d)).code);
  assert.is(r.deviceId, id.deviceId);
  assert.is(r.role, "orchestrator");
  const list = JSON.parse((await cli(["devices", "preauthorizations", "--json", "--data-dir", ctx.d.dataDir])).stdout) as { deviceId: string; usedAt: number }[];
  assert.ok((list.find((p) => p.deviceId === id.deviceId)?.usedAt ?? 0) > 0, "marked used");
  // single use: pairing again waits for an admin
  const again = (await pairAlone(dir, (await mintCode(ctx.d)).code, 1500).catch((e: unknown) => e)) as NodeError;
  assert.is(again.code, "EXPIRED", "no automatic approval the second time");
  const audit = (await admin<{ entries: { type: string; actor: string }[] }>(ctx.d, "ListAudit", { since: 0, limit: 0 })).entries;
  assert.ok(audit.some((e) => e.type === "preauthorization.created"));
  assert.ok(audit.some((e) => e.type === "request.approved" && e.actor === "preauthorization"));
});

R("a preauthorized key without the right code gets nothing", async () => {
  const dir = `${ctx.tmp.path}/n2`;
  const id = await identity(dir);
  await admin(ctx.d, "Preauthorize", { identityKey: id.identityKey, name: "", role: "", expiresAt: 0 });
  const code = await mintCode(ctx.d);
  const p = pinParts(code.code);
  const wrong = `${p.selector}-${p.secret === "13572468" ? "2468-1357" : "1357-2468"}`;
  const e = (await pairAlone(dir, wrong).catch((x: unknown) => x)) as NodeError;
  assert.is(e.code, "WRONG_CODE");
  const devices = (await admin<{ devices: { id: string }[] }>(ctx.d, "ListDevices")).devices;
  assert.not.ok(
    devices.some((d) => d.id === id.deviceId),
    "no device, no certificate",
  );
});

R("an expired or withdrawn preauthorization leaves the request pending", async () => {
  const dir = `${ctx.tmp.path}/n3`;
  const id = await identity(dir);
  await admin(ctx.d, "Preauthorize", { identityKey: id.identityKey, name: "", role: "", expiresAt: 0 });
  const w = await cli(["devices", "unpreauthorize", id.deviceId, "--data-dir", ctx.d.dataDir]);
  assert.is(w.code, 0, w.stderr);
  const e = (await pairAlone(dir, (await mintCode(ctx.d)).code, 1500).catch((x: unknown) => x)) as NodeError;
  assert.is(e.code, "EXPIRED");
  const pending = (await admin<{ requests: PairRequest[] }>(ctx.d, "ListRequests", { state: "pending" })).requests;
  await waitFor(() => pending.some((r) => r.deviceId === id.deviceId), "request pending");
  const past = await cli(["devices", "preauthorize", "--identity-key", id.identityKey, "--expires", "2020-01-01T00:00:00Z", "--data-dir", ctx.d.dataDir]);
  assert.is(past.code, 2);
  assert.match(past.stderr, /already be expired/);
  const bad = await cli(["devices", "preauthorize", "--identity-key", "abcd", "--data-dir", ctx.d.dataDir]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /64 hex digits/);
});

R.run();
