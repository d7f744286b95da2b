/**
 * Two paired nodes call each other over mutual TLS, trusting only the daemon's CA; revocation
 * stops it, through Verify and through the CRL the daemon pushes on each node's stream (which
 * still works with the daemon down).
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { once } from "node:events";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect, connectPeer, createPeerServer } from "@tether/node";
import type { HeldCrl, NodeConnection, PeerServer } from "@tether/node";
import { admin, pairDevice, startTestDaemon, tempDir } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const ctx = {} as {
  tmp: ReturnType<typeof tempDir>;
  d: TestDaemon;
  a: string;
  b: string;
  c: string;
  ca: NodeConnection;
  cb: NodeConnection;
  cc: NodeConnection;
  server: PeerServer;
  offline: PeerServer;
  oldCrl: Uint8Array;
};
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
  ctx.c = await pairDevice(ctx.d, `${ctx.tmp.path}/c`, { name: "c" });
  ctx.ca = await node(`${ctx.tmp.path}/a`);
  ctx.cb = await node(`${ctx.tmp.path}/b`);
  ctx.cc = await node(`${ctx.tmp.path}/c`);
  const hello = (x: unknown, peer: { deviceId: string; role: string }) => ({ from: peer.deviceId, role: peer.role, echo: x });
  ctx.server = await createPeerServer(ctx.ca, { hello }, { verifyCacheMs: 0 });
  ctx.offline = await createPeerServer(ctx.ca, { hello }, { verifyCacheMs: 0, offlineFallback: true });
});
P.after(async () => {
  await ctx.server.close();
  await ctx.offline.close();
  await ctx.ca.close();
  await ctx.cb.close();
  await ctx.cc.close();
  await ctx.d.stop();
  ctx.tmp.remove();
});

P("two paired nodes call each other over mutual TLS, and each learns who the other is", async () => {
  const p = connectPeer(ctx.cb, `127.0.0.1:${ctx.server.port}`, { expectDeviceId: ctx.a, verifyCacheMs: 0 });
  try {
    assert.equal(await p.call("hello", { n: 1 }), { from: ctx.b, role: "node", echo: { n: 1 } });
    assert.is(p.peer()?.deviceId, ctx.a);
    await p.call("nope").then(
      () => assert.unreachable(),
      (e: Error) => assert.match(e.message, /UNIMPLEMENTED|no peer method/),
    );
  } finally {
    p.close();
  }
  // expecting another device id is refused
  const wrong = connectPeer(ctx.cb, `127.0.0.1:${ctx.server.port}`, { expectDeviceId: ctx.b });
  await wrong.call("hello").then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /not dev_/),
  );
  wrong.close();
});

P("a device of another CA cannot call", async () => {
  const other = await startTestDaemon();
  try {
    await pairDevice(other, `${ctx.tmp.path}/alien`, { name: "alien" });
    const alien = await node(`${ctx.tmp.path}/alien`);
    const p = connectPeer(alien, `127.0.0.1:${ctx.server.port}`);
    await p.call("hello").then(
      () => assert.unreachable("an alien got through"),
      (e: Error) => assert.ok(e.message.length > 0),
    );
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
    const e = (await p.call("hello").then(
      () => undefined,
      (x: Error) => x,
    )) as Error;
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

P("the daemon pushes its signed CRL on each node's stream at registration; a node keeps it on disk", async () => {
  const held = ctx.ca.crl() ?? ((await once(ctx.ca, "crl")) as [HeldCrl])[0];
  assert.ok(held.crlNumber >= 1 && held.nextUpdate > Date.now(), "a current CRL is held after registering");
  assert.ok(existsSync(`${ctx.tmp.path}/a/crl.der`), "saved in the state directory");
  // openssl agrees it is the CA's CRL
  const out = execFileSync("openssl", ["crl", "-inform", "DER", "-in", `${ctx.tmp.path}/a/crl.der`, "-CAfile", `${ctx.tmp.path}/a/ca.pem`, "-noout"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  assert.ok(out !== undefined);
  ctx.oldCrl = held.der;
  // a CRL that is not the CA's (one byte of the signature changed) is refused and not kept
  const bad = new Uint8Array(held.der);
  bad[bad.length - 3] = (bad[bad.length - 3] as number) ^ 0x01;
  await ctx.ca.acceptCrl(bad).then(
    () => assert.unreachable("a tampered CRL was accepted"),
    (e: Error & { code?: string }) => assert.is(e.code, "BAD_CRL"),
  );
  assert.is(ctx.ca.crl()?.crlNumber, held.crlNumber);
});

P("after one of them is revoked, the calls fail; the new CRL reaches the other nodes on their streams", async () => {
  const cb = new X509Certificate(readFileSync(`${ctx.tmp.path}/b/cert.pem`));
  const pushed = new Promise<{ revokedSerials: Set<string> }>((resolve) =>
    ctx.ca.on("crl", (c: { revokedSerials: Set<string> }) => {
      if (c.revokedSerials.size > 0) resolve(c);
    }),
  );
  await admin(ctx.d, "RevokeDevice", { id: ctx.b, reason: "peer test" });
  const crl = await pushed;
  assert.ok(ctx.ca.isSerialRevoked(cb.serialNumber), "b's serial is on the pushed CRL");
  assert.ok(crl.revokedSerials.size >= 1);
  // an older CRL cannot replace the newer one (no rollback)
  await ctx.ca.acceptCrl(ctx.oldCrl).then(
    () => assert.unreachable("an older CRL replaced a newer one"),
    (e: Error & { code?: string }) => assert.is(e.code, "STALE_CRL"),
  );
  assert.ok(ctx.ca.isSerialRevoked(cb.serialNumber));
  // b's connection to the daemon ended, but its certificate still opens TLS to a: a refuses it
  const p = connectPeer(ctx.cb, `127.0.0.1:${ctx.server.port}`, { verifyCacheMs: 0 });
  const e = (await p.call("hello").then(
    () => undefined,
    (x: Error) => x,
  )) as Error;
  p.close();
  assert.ok(e, "a revoked peer's call was served");
  assert.match(e.message, /PERMISSION_DENIED.*(revoked|CRL)/);
});

P("with the daemon down: checks fail closed by default; with offlineFallback the held CRL decides", async () => {
  await ctx.d.stop();
  // c is not revoked, but nobody can ask the daemon: refused unless the fallback is on
  const strict = connectPeer(ctx.cc, `127.0.0.1:${ctx.server.port}`, { verifyCacheMs: 0, offlineFallback: true });
  const e = (await strict.call("hello").then(
    () => undefined,
    (x: Error) => x,
  )) as Error;
  strict.close();
  assert.ok(e, "an unverifiable peer was served without the fallback");
  assert.match(e.message, /UNAVAILABLE.*cannot check the peer/);
  const lenient = connectPeer(ctx.cc, `127.0.0.1:${ctx.offline.port}`, { verifyCacheMs: 0, offlineFallback: true, expectDeviceId: ctx.a });
  assert.equal(((await lenient.call("hello", 3)) as { from: string; echo: number }).from, ctx.c);
  lenient.close();
  // b is on the CRL a holds: refused even though the daemon cannot be asked
  const revoked = connectPeer(ctx.cb, `127.0.0.1:${ctx.offline.port}`, { verifyCacheMs: 0, offlineFallback: true });
  const r = (await revoked.call("hello").then(
    () => undefined,
    (x: Error) => x,
  )) as Error;
  revoked.close();
  assert.ok(r, "a revoked peer was served with the daemon down");
  assert.match(r.message, /PERMISSION_DENIED.*CRL/);
});

P.run();
