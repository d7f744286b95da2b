/** Two paired nodes call each other over mutual TLS, trusting only the daemon's CA; revocation stops it. */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect, connectPeer, createPeerServer } from "@tether/node";
import type { NodeConnection, PeerServer } from "@tether/node";
import { admin, pairDevice, startTestDaemon, tempDir } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; a: string; b: string; ca: NodeConnection; cb: NodeConnection; server: PeerServer };
const P = suite("peers");

async function node(dir: string) {
  const c = connect(dir);
  c.handle("noop", () => null);
  c.on("fatal", () => undefined);
  await c.start();
  return c;
}

P.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data` });
  ctx.a = await pairDevice(ctx.d, `${ctx.tmp.path}/a`, { name: "a" });
  ctx.b = await pairDevice(ctx.d, `${ctx.tmp.path}/b`, { name: "b" });
  ctx.ca = await node(`${ctx.tmp.path}/a`);
  ctx.cb = await node(`${ctx.tmp.path}/b`);
  ctx.server = await createPeerServer(ctx.ca, { hello: (x, peer) => ({ from: peer.deviceId, role: peer.role, echo: x }) }, { verifyCacheMs: 0 });
});
P.after(async () => {
  await ctx.server.close();
  await ctx.ca.close();
  await ctx.cb.close();
  await ctx.d.stop();
  ctx.tmp.remove();
});

P("two paired nodes call each other over mutual TLS, and each learns who the other is", async () => {
  const p = connectPeer(ctx.cb, `127.0.0.1:${ctx.server.port}`, { expectDeviceId: ctx.a, verifyCacheMs: 0 });
  try {
    assert.equal(await p.call("hello", { n: 1 }), { from: ctx.b, role: "node", echo: { n: 1 } });
    assert.is(p.peer()?.deviceId, ctx.a);
    await p.call("nope").then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /UNIMPLEMENTED|no peer method/));
  } finally {
    p.close();
  }
  // expecting another device id is refused
  const wrong = connectPeer(ctx.cb, `127.0.0.1:${ctx.server.port}`, { expectDeviceId: ctx.b });
  await wrong.call("hello").then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /not dev_/));
  wrong.close();
});

P("a device of another CA cannot call", async () => {
  const other = await startTestDaemon();
  try {
    await pairDevice(other, `${ctx.tmp.path}/alien`, { name: "alien" });
    const alien = await node(`${ctx.tmp.path}/alien`);
    const p = connectPeer(alien, `127.0.0.1:${ctx.server.port}`);
    await p.call("hello").then(() => assert.unreachable("an alien got through"), (e: Error) => assert.ok(e.message.length > 0));
    p.close();
    await alien.close();
  } finally {
    await other.stop();
  }
});

P("the label policy: devices with labels must share one to talk", async () => {
  const setLabels = (id: string, set: Record<string, string>, remove: string[] = []) => admin(ctx.d, "SetLabels", { id, set, remove });
  await setLabels(ctx.a, { site: "berlin" });
  await setLabels(ctx.b, { site: "paris" });
  const p = connectPeer(ctx.cb, `127.0.0.1:${ctx.server.port}`, { verifyCacheMs: 0 });
  try {
    const e = (await p.call("hello").then(() => undefined, (x: Error) => x)) as Error;
    assert.ok(e, "different sites were allowed to talk");
    assert.match(e.message, /policy does not allow.*no shared label/);
    await setLabels(ctx.b, { site: "berlin" });
    assert.equal((await p.call("hello", 2)) as { echo: number }, { from: ctx.b, role: "node", echo: 2 });
    const v = await admin<{ status: string; allowed: boolean; policy: string }>(ctx.d, "Verify", {
      certificate: new X509Certificate(readFileSync(`${ctx.tmp.path}/b/cert.pem`)).raw,
      token: "",
      audience: "",
      peerDeviceId: ctx.a,
    });
    assert.equal([v.status, v.allowed, v.policy], ["valid", true, "both have site=berlin"]);
  } finally {
    p.close();
    await setLabels(ctx.a, {}, ["site"]);
    await setLabels(ctx.b, {}, ["site"]);
  }
});

P("after one of them is revoked, the calls fail", async () => {
  await admin(ctx.d, "RevokeDevice", { id: ctx.b, reason: "peer test" });
  // b's connection to the daemon ended, but its certificate still opens TLS to a: a asks the daemon and refuses
  const p = connectPeer(ctx.cb, `127.0.0.1:${ctx.server.port}`, { verifyCacheMs: 0 });
  const e = (await p.call("hello").then(() => undefined, (x: Error) => x)) as Error;
  p.close();
  assert.ok(e, "a revoked peer's call was served");
  assert.match(e.message, /PERMISSION_DENIED.*revoked/);
});

P.run();
