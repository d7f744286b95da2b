/**
 * Fan-out dispatch (issue 15; docs/fleet.md §3.9), through the real CLI and SDK nodes against
 * a real daemon: `tether dispatch --selector 'cap=echo,site=berlin'` makes one job for every
 * matching device (labels, capability, not revoked; --online only those connected), a node
 * offline at dispatch time gets its job when it returns, one idempotency key makes a retried
 * fan-out create nothing twice, a fan-out over the limit is refused before anything is written,
 * a device whose queue is full is skipped and named, and `tether jobs list --fanout` counts.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@tether/node";
import type { NodeConnection } from "@tether/node";
import { admin, cli, pairDevice, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; ids: Record<string, string>; conns: Map<string, NodeConnection> };
const F = suite("fan-out dispatch");

async function online(name: string): Promise<NodeConnection> {
  const c = connect(join(ctx.tmp.path, name), { daemon: ctx.d.listen });
  c.handle("echo", (input) => ({ from: name, input }));
  await c.start();
  ctx.conns.set(name, c);
  return c;
}

F.before(async () => {
  ctx.tmp = tempDir("tether-fan-");
  // Small limits, so that the limits can be reached: 4 devices per fan-out, 1 queued job per device.
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data`, jobs: { maxFanoutDevices: 4, maxQueuedPerDevice: 1 } });
  ctx.ids = {};
  ctx.conns = new Map();
  const sites: Record<string, string> = { a: "berlin", b: "berlin", c: "paris", d: "berlin", e: "berlin" };
  for (const [name, site] of Object.entries(sites)) {
    ctx.ids[name] = await pairDevice(ctx.d, join(ctx.tmp.path, name), { name });
    await admin(ctx.d, "SetLabels", { id: ctx.ids[name], set: { site }, remove: [] });
    await online(name); // every node announces echo once
  }
  // d goes offline (it announced echo: an offline device still takes queued work); e is revoked.
  await ctx.conns.get("d")?.close();
  ctx.conns.delete("d");
  await admin(ctx.d, "RevokeDevice", { id: ctx.ids.e, reason: "test" });
  ctx.conns.delete("e");
});
F.after(async () => {
  for (const c of ctx.conns.values()) await c.close().catch(() => undefined);
  await ctx.d.stop();
  ctx.tmp.remove();
});

type Fanout = {
  id: string;
  jobs: { id: string; deviceId: string; state: string; output: unknown }[];
  skipped: { deviceId: string; code: string }[];
  states: Record<string, number>;
  existed: boolean;
};
const dd = () => ["--data-dir", ctx.d.dataDir];

F("one call, one job per matching device; the offline one gets its job when it returns; the CLI waits for all and counts", async () => {
  const r = await cli(["dispatch", "--selector", "cap=echo,site=berlin", "--input", '{"v":1}', "--no-wait", "--json", ...dd()]);
  assert.is(r.code, 0, r.stderr);
  const f = JSON.parse(r.stdout) as Fanout;
  assert.match(f.id, /^fan_[0-9a-f]{24}$/);
  assert.equal(f.jobs.map((j) => j.deviceId).sort(), [ctx.ids.a, ctx.ids.b, ctx.ids.d].sort(), "berlin, echo, not revoked: a, b and the offline d");
  assert.is(f.jobs.find((j) => j.deviceId === ctx.ids.d)?.state, "queued");
  await waitFor(async () => {
    const now = JSON.parse((await cli(["jobs", "list", "--fanout", f.id, "--json", ...dd()])).stdout) as { states: Record<string, number> };
    return now.states.succeeded === 2 && now.states.queued === 1;
  }, "the two online ones done, d's queued");
  await online("d");
  await waitFor(
    async () => (JSON.parse((await cli(["jobs", "list", "--fanout", f.id, "--json", ...dd()])).stdout) as { states: Record<string, number> }).states.succeeded === 3,
    "d's job done once it returned",
  );
  const text = await cli(["jobs", "list", "--fanout", f.id, ...dd()]);
  assert.match(text.stdout, new RegExp(`^fan-out ${f.id}: succeeded 3\n`));
  // Waiting (the default): the CLI prints the count and exits 0 when every job succeeded.
  const waited = await cli(["dispatch", "--selector", "cap=echo,site=berlin", "--online", ...dd()]);
  assert.is(waited.code, 0, waited.stderr);
  assert.match(waited.stdout, /^fan_[0-9a-f]{24}: succeeded 3\n$/);
  assert.match(waited.stderr, /fan-out fan_[0-9a-f]{24}: 3 jobs for cap=echo,site=berlin \(online\)/);
});

F("--online leaves out a device not connected now; one idempotency key makes a retry create nothing twice", async () => {
  await ctx.conns.get("b")?.close();
  ctx.conns.delete("b");
  await waitFor(async () => !(await admin<{ online: boolean }>(ctx.d, "GetDevice", { id: ctx.ids.b })).online, "b offline");
  const first = await cli(["dispatch", "--selector", "cap=echo,site=berlin", "--online", "--idempotency-key", "roll-1", "--no-wait", "--json", ...dd()]);
  assert.is(first.code, 0, first.stderr);
  const f1 = JSON.parse(first.stdout) as Fanout;
  assert.equal(f1.jobs.map((j) => j.deviceId).sort(), [ctx.ids.a, ctx.ids.d].sort(), "only those online");
  assert.is(f1.existed, false);
  const before = (await admin<{ entries: unknown[] }>(ctx.d, "ListAudit", { since: 0, limit: 0 })).entries.length;
  const again = await cli(["dispatch", "--selector", "cap=echo,site=berlin", "--online", "--idempotency-key", "roll-1", "--no-wait", "--json", ...dd()]);
  const f2 = JSON.parse(again.stdout) as Fanout;
  assert.is(f2.id, f1.id, "the same fan-out");
  assert.is(f2.existed, true);
  assert.equal(f2.jobs.map((j) => j.id).sort(), f1.jobs.map((j) => j.id).sort(), "the same jobs");
  assert.is((await admin<{ entries: unknown[] }>(ctx.d, "ListAudit", { since: 0, limit: 0 })).entries.length, before, "nothing written");
  await online("b");
});

F("over the limit: refused before anything is written (exit 9); a full queue skips that device and names it; no match, bad selectors", async () => {
  // 5 devices carry echo; e is revoked, so 4 match without a label: at the limit. With a
  // fifth, unrevoked, match it would be over: unrevoke e to get there.
  await admin(ctx.d, "ClearRevocation", { id: ctx.ids.e });
  const over = await cli(["dispatch", "--selector", "cap=echo", "--no-wait", ...dd()]);
  assert.is(over.code, 9, over.stderr);
  assert.match(over.stderr, /matches 5 devices; one fan-out addresses at most 4/);
  const total = (JSON.parse((await cli(["jobs", "list", "--limit", "1000", "--json", ...dd()])).stdout) as unknown[]).length;
  // Devices with a full queue (offline, one job already queued): skipped, named, the others served.
  await ctx.conns.get("d")?.close();
  ctx.conns.delete("d");
  await waitFor(async () => !(await admin<{ online: boolean }>(ctx.d, "GetDevice", { id: ctx.ids.d })).online, "d offline");
  const q1 = JSON.parse((await cli(["dispatch", "--selector", "cap=echo,site=berlin", "--no-wait", "--json", ...dd()])).stdout) as Fanout;
  assert.is(q1.skipped.length, 0);
  const q2 = await cli(["dispatch", "--selector", "cap=echo,site=berlin", "--no-wait", "--json", ...dd()]);
  assert.is(q2.code, 0, q2.stderr);
  const f = JSON.parse(q2.stdout) as Fanout;
  assert.equal(
    f.skipped.map((s) => [s.deviceId, s.code]).sort(),
    [
      [ctx.ids.d, "QUEUE_FULL"],
      [ctx.ids.e, "QUEUE_FULL"],
    ].sort(),
    "d and e (offline, unrevoked) each have 1 queued job: their queues are full",
  );
  assert.equal(f.jobs.map((j) => j.deviceId).sort(), [ctx.ids.a, ctx.ids.b].sort(), "the online ones are served");
  assert.ok(!f.jobs.some((j) => j.deviceId === ctx.ids.d));
  const totalNow = (JSON.parse((await cli(["jobs", "list", "--limit", "1000", "--json", ...dd()])).stdout) as unknown[]).length;
  assert.is(totalNow, total + q1.jobs.length + f.jobs.length, "the refused fan-out wrote no job");
  // No match; malformed selectors.
  const none = await cli(["dispatch", "--selector", "cap=echo,site=tokyo", ...dd()]);
  assert.is(none.code, 5, none.stderr);
  assert.match(none.stderr, /no device matches cap=echo,site=tokyo/);
  for (const [args, words] of [
    [["--selector", "site=berlin"], /needs cap=NAME/],
    [["--selector", "cap=echo,site"], /is not KEY=VALUE/],
    [["--selector", "cap=echo", ctx.ids.a as string, "echo"], /not both/],
    [["--online", ctx.ids.a as string, "echo"], /--online is for --selector/],
  ] as const) {
    const r = await cli(["dispatch", ...args, ...dd()]);
    assert.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, words);
  }
  const badId = await cli(["jobs", "list", "--fanout", "fan_nope", ...dd()]);
  assert.is(badId.code, 2, badId.stderr);
});

F.run();
