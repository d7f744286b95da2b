/**
 * Revocation first (issue 15; docs/fleet.md §5.1): RevokeDevice ends the device's streams and
 * refuses its certificate before anything it would otherwise wait behind. Here the daemon's
 * device index is made to apply every written change 1.5 s late (startDaemon's
 * indexUpdateDelayMs, tests only), as a long store queue or a busy mutex would: the stream still
 * ends at once, well before the answer, and a new connection is refused from then on. The CRL
 * follows the answer, or comes before it with --wait-crl.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { admin, cli, pairDevice, rawNodeStream, startTestDaemon, streamEnd, tempDir } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const DELAY_MS = 1500;
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon };
const R = suite("revocation first");

R.before(async () => {
  ctx.tmp = tempDir("tether-rf-");
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data`, indexUpdateDelayMs: DELAY_MS });
});
R.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

async function connected(name: string) {
  const dir = join(ctx.tmp.path, name);
  const id = await pairDevice(ctx.d, dir, { name });
  const s = await rawNodeStream(ctx.d.listen, dir);
  s.stream.write({ register: { deviceId: id, capabilities: [], platform: "test", version: "0", maxConcurrency: 1 } });
  await new Promise<void>((resolve) => s.stream.once("data", () => resolve()));
  s.stream.on("error", () => undefined); // its end is what some tests look at (streamEnd), not a failure
  return { id, dir, ...s };
}

R("the stream ends at once, before the answer, although the index applies written changes 1.5 s late", async () => {
  const n = await connected("first");
  try {
    const t0 = Date.now();
    const ended = streamEnd(n.stream).then((e) => ({ ...e, at: Date.now() - t0 }));
    const answered = admin(ctx.d, "RevokeDevice", { id: n.id, reason: "test" }).then(() => Date.now() - t0);
    const [e, answerMs] = await Promise.all([ended, answered]);
    assert.is(e.code, status.PERMISSION_DENIED);
    assert.match(e.details, /revoked/);
    assert.ok(e.at < DELAY_MS, `the stream ended in ${e.at} ms, not after the index's ${DELAY_MS} ms`);
    assert.ok(e.at <= answerMs, `ended (${e.at} ms) no later than the answer (${answerMs} ms)`);
    // A new stream with its certificate is refused now.
    const again = await rawNodeStream(ctx.d.listen, n.dir);
    again.stream.write({ register: { deviceId: n.id, capabilities: [], platform: "test", version: "0", maxConcurrency: 1 } });
    const refused = await streamEnd(again.stream);
    again.close();
    assert.ok(refused.code === status.UNAUTHENTICATED || refused.code === status.PERMISSION_DENIED, `refused: ${refused.code} ${refused.details}`);
    assert.match(refused.details, /revoked/);
    // And it is durable: the store says revoked.
    assert.ok((await admin<{ revokedAt: number }>(ctx.d, "GetDevice", { id: n.id })).revokedAt > 0);
  } finally {
    n.close();
  }
});

R("the answer says whether the CRL is out; --wait-crl waits for it", async () => {
  const a = await connected("crl-a");
  const b = await connected("crl-b");
  try {
    const quick = JSON.parse((await cli(["devices", "revoke", a.id, "--json", "--data-dir", ctx.d.dataDir])).stdout) as { crlPending: boolean };
    assert.is(quick.crlPending, true);
    const waited = await cli(["devices", "revoke", b.id, "--wait-crl", "--json", "--data-dir", ctx.d.dataDir]);
    assert.is(waited.code, 0, waited.stderr);
    assert.is((JSON.parse(waited.stdout) as { crlPending: boolean }).crlPending, false);
    // The CRL the daemon serves now lists b's certificate (openssl reads it).
    const file = join(ctx.tmp.path, "after.pem");
    assert.is((await cli(["ca", "crl", "--out", file, "--data-dir", ctx.d.dataDir])).code, 0);
    const text = execFileSync("openssl", ["crl", "-in", file, "-noout", "-text"], { encoding: "utf8" });
    const serial = new X509Certificate(readFileSync(join(b.dir, "cert.pem"))).serialNumber.replace(/^0+/, "");
    assert.match(text, new RegExp(serial, "i"));
  } finally {
    a.close();
    b.close();
  }
});

R("a revocation of an unknown device changes nothing and ends nothing", async () => {
  const n = await connected("bystander");
  try {
    const r = await cli(["devices", "revoke", "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", "--data-dir", ctx.d.dataDir]);
    assert.is(r.code, 4, r.stderr);
    const still = await admin<{ online: boolean; revokedAt: number }>(ctx.d, "GetDevice", { id: n.id });
    assert.is(still.online, true, "the bystander is still connected");
    assert.is(still.revokedAt, 0);
  } finally {
    n.close();
  }
});

R.run();
