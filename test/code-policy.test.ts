/**
 * Codes that carry their policy (issue 13; docs/operations.md, "Codes that carry their policy"):
 * `tether pair code --role --label --approve --uses N`, through the real CLI and the node SDK
 * against a real daemon. The role and labels are granted at approval; with --approve the
 * request is approved as the handshake finishes (audit actor `code:ID`); a code of N uses pairs
 * N devices, never N+1, even when more race for it; failed handshakes still burn it after the
 * usual budget; bad policies are refused with exit 2 and nothing minted.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pair } from "@tether/node";
import type { NodeError } from "@tether/node";
import { admin, cli, pinParts, startTestDaemon, tempDir } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon };
const R = suite("codes that carry their policy");

R.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data` });
});
R.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

type Minted = { id: string; code: string; role: string; labels: Record<string, string>; approve: boolean; uses: number };
type Device = { id: string; role: string; labels: Record<string, string> };
type Entry = { type: string; actor: string; subject: string; details: Record<string, unknown> };

async function mint(args: string[]): Promise<Minted> {
  const r = await cli(["pair", "code", "--method", "pin", "--json", ...args, "--data-dir", ctx.d.dataDir]);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Minted;
}

/** Pair without any approver: resolves only if the daemon approves by itself within `waitMs`. */
async function pairAlone(name: string, code: string, waitMs = 4000) {
  const stop = new AbortController();
  const t = setTimeout(() => stop.abort(), waitMs);
  try {
    return await pair({ daemon: ctx.d.listen, pin: code, name, stateDir: `${ctx.tmp.path}/${name}`, signal: stop.signal });
  } finally {
    clearTimeout(t);
  }
}

const device = async (id: string) => admin<Device>(ctx.d, "GetDevice", { id });
/** The audit log, each entry's details parsed (they are JSON text on the wire). */
const audit = async () =>
  (await admin<{ entries: (Omit<Entry, "details"> & { details: string })[] }>(ctx.d, "ListAudit", { since: 0, limit: 0 })).entries.map((e) => ({
    ...e,
    details: JSON.parse(e.details || "{}") as Record<string, unknown>,
  }));

R("--role and --label are granted when an admin approves, and the admin's own role still decides", async () => {
  const m = await mint(["--role", "orchestrator", "--label", "site=berlin", "--label", "rack=7"]);
  assert.equal([m.role, m.labels, m.approve, m.uses], ["orchestrator", { site: "berlin", rack: "7" }, false, 1]);
  // Without --approve the request waits: the node is not approved by itself.
  const waited = (await pairAlone("waits", m.code, 1500).catch((e: unknown) => e)) as NodeError;
  assert.is(waited.code, "EXPIRED", "a code without --approve leaves the request pending");
  const pending = JSON.parse((await cli(["pair", "list", "--json", "--data-dir", ctx.d.dataDir])).stdout) as { id: string; state: string; deviceId: string }[];
  const req = pending.find((p) => p.state === "pending");
  assert.ok(req, "the request is pending");
  const approved = await cli(["pair", "approve", req.id, "--json", "--data-dir", ctx.d.dataDir]);
  assert.is(approved.code, 0, approved.stderr);
  const d = await device(req.deviceId);
  assert.is(d.role, "orchestrator", "the code's role");
  assert.equal(d.labels, { site: "berlin", rack: "7" });
  // A second code with a role, approved with another role by the admin: the admin's wins.
  const m2 = await mint(["--role", "orchestrator"]);
  void pairAlone("admin-decides", m2.code, 1500).catch(() => undefined);
  let id = "";
  for (let i = 0; i < 100 && !id; i++) {
    await new Promise((r) => setTimeout(r, 30));
    const l = JSON.parse((await cli(["pair", "list", "--json", "--data-dir", ctx.d.dataDir])).stdout) as { id: string; state: string; name: string }[];
    id = l.find((p) => p.state === "pending" && p.name === "admin-decides")?.id ?? "";
  }
  assert.ok(id, "the second request is pending");
  const mine = JSON.parse((await cli(["pair", "approve", id, "--role", "node", "--json", "--data-dir", ctx.d.dataDir])).stdout) as { role: string };
  assert.is(mine.role, "node");
});

R("a plain code prints the fields it always had, and no policy", async () => {
  const r = await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.d.dataDir]);
  assert.equal(Object.keys(JSON.parse(r.stdout) as object), ["id", "method", "code", "expiresAt", "join"]);
});

R("--approve: the request is approved as its handshake finishes, shown in the code's mint and the approval's audit entry", async () => {
  const m = await mint(["--approve", "--label", "site=lab"]);
  assert.is(m.approve, true);
  const r = await pairAlone("auto", m.code);
  assert.is(r.role, "node");
  assert.equal((await device(r.deviceId)).labels, { site: "lab" });
  const entries = await audit();
  const minted = entries.find((e) => e.type === "code.minted" && e.subject === m.id);
  assert.is(minted?.details.approve, true, JSON.stringify(minted));
  const approval = entries.find((e) => e.type === "request.approved" && e.details.device === r.deviceId);
  assert.is(approval?.actor, `code:${m.id}`, "the approval names the code that approved it");
  // Single use by default: a second device with the same code is refused.
  const again = (await pairAlone("auto-2", m.code).catch((e: unknown) => e)) as NodeError;
  assert.is(again.code, "CODE_UNUSABLE", again.message);
  assert.match(again.message, /CODE_USED/);
});

R("--uses 3 --approve: three devices pair, and of five racing for it exactly three", async () => {
  const m = await mint(["--approve", "--uses", "3"]);
  assert.is(m.uses, 3);
  const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => pairAlone(`batch-${i}`, m.code)));
  const ok = results.filter((x) => x.status === "fulfilled");
  const refused = results.filter((x): x is PromiseRejectedResult => x.status === "rejected").map((x) => (x.reason as NodeError).message);
  assert.is(ok.length, 3, `paired: ${ok.length}; refused: ${refused.join(", ")}`);
  assert.is(refused.length, 2);
  for (const m of refused) assert.match(m, /CODE_USED/);
  const approvals = (await audit()).filter((e) => e.type === "request.approved" && e.actor === `code:${m.id}`);
  assert.is(approvals.length, 3);
});

R("a code of several uses is still burned by failed handshakes after the usual budget", async () => {
  const m = await mint(["--approve", "--uses", "10"]);
  const p = pinParts(m.code);
  const wrong = `${p.selector}-${p.secret === "13572468" ? "2468-1357" : "1357-2468"}`;
  for (let i = 0; i < 5; i++) {
    const e = (await pairAlone(`wrong-${i}`, wrong).catch((x: unknown) => x)) as NodeError;
    assert.is(e.code, "WRONG_CODE", e.message);
  }
  const e = (await pairAlone("right-after", m.code).catch((x: unknown) => x)) as NodeError;
  assert.is(e.code, "CODE_UNUSABLE", e.message);
  assert.match(e.message, /CODE_BURNED/);
});

R("bad policies are refused with exit 2, and nothing is minted", async () => {
  const before = (await audit()).filter((e) => e.type === "code.minted").length;
  for (const [args, why] of [
    [["--uses", "0"], /--uses must be a whole number/],
    [["--uses", "1001"], /--uses must be a whole number/],
    [["--uses", "two"], /--uses must be a whole number/],
    [["--label", "site"], /is not KEY=VALUE/],
    [["--label", "Site=Berlin"], /keys and values must match/],
    [["--role", "admin"], /role|choices|node, orchestrator/i],
  ] as const) {
    const r = await cli(["pair", "code", "--method", "pin", ...args, "--data-dir", ctx.d.dataDir]);
    assert.is(r.code, 2, `${args.join(" ")}: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, why, args.join(" "));
  }
  assert.is((await audit()).filter((e) => e.type === "code.minted").length, before, "no code was minted");
});

R.run();
