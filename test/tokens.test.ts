/** Device tokens: issued over mutual TLS, verified with the JWKS, and refused when forged or stale. */
import { randomBytes } from "node:crypto";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { identityFromSeed, signToken, toBase64Url, utf8 } from "@tether/crypto";
import { connect, verifyToken } from "@tether/node";
import type { Jwks, NodeConnection } from "@tether/node";
import { admin, cli, pairDevice, startTestDaemon, tempDir } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; id: string; c: NodeConnection; jwks: Jwks };
const K = suite("tokens");

K.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data` });
  ctx.id = await pairDevice(ctx.d, `${ctx.tmp.path}/n`, { name: "t" });
  ctx.c = connect(`${ctx.tmp.path}/n`);
  ctx.c.handle("x", () => 1);
  await ctx.c.start();
  const r = await cli(["ca", "jwks", "--data-dir", ctx.d.dataDir]);
  ctx.jwks = JSON.parse(r.stdout) as Jwks;
});
K.after(async () => {
  await ctx.c.close();
  await ctx.d.stop();
  ctx.tmp.remove();
});

K("a node gets a token; anyone with the JWKS verifies it; its claims are as documented", async () => {
  assert.is(ctx.jwks.keys.length, 1);
  assert.equal(await ctx.c.getJwks(), ctx.jwks);
  const { token, expiresAt } = await ctx.c.issueToken("billing-api", 120);
  const claims = verifyToken(token, ctx.jwks, { audience: "billing-api", now: Date.now() });
  assert.is(claims.sub, ctx.id);
  assert.is(claims.aud, "billing-api");
  assert.is(claims.role, "node");
  assert.is(claims.exp - claims.iat, 120);
  assert.is(claims.exp * 1000, expiresAt);
  assert.match(claims.jti, /^[0-9a-f]{32}$/);
  const header = JSON.parse(Buffer.from(token.split(".")[0] as string, "base64url").toString()) as { alg: string };
  assert.is(header.alg, "EdDSA");
  await ctx.c.issueToken("x", 901).then(
    () => assert.unreachable("a 15-minute-plus token"),
    (e: Error) => assert.match(e.message, /900 seconds/),
  );
});

K("forged, stale and misdirected tokens are refused", async () => {
  const { token } = await ctx.c.issueToken("svc", 60);
  const [h, b] = token.split(".") as [string, string, string];
  const none = `${toBase64Url(utf8(JSON.stringify({ alg: "none", typ: "JWT" })))}.${b}.`;
  assert.throws(() => verifyToken(none, ctx.jwks, { audience: "svc", now: Date.now() }), /alg "none" is not allowed/);
  // signed by another key that claims the daemon's key id
  const mallory = identityFromSeed(new Uint8Array(randomBytes(32)));
  const claims = JSON.parse(Buffer.from(b, "base64url").toString()) as Parameters<typeof signToken>[0];
  const forged = signToken(claims, mallory.secretKey, mallory.publicKey);
  const forgedSameKid = `${h}.${forged.split(".")[1]}.${forged.split(".")[2]}`;
  assert.throws(() => verifyToken(forgedSameKid, ctx.jwks, { audience: "svc", now: Date.now() }), /signature does not verify/);
  assert.throws(() => verifyToken(forged, ctx.jwks, { audience: "svc", now: Date.now() }), /unknown key id/);
  assert.throws(() => verifyToken(token, ctx.jwks, { audience: "other", now: Date.now() }), /audience/);
  assert.throws(() => verifyToken(token, ctx.jwks, { audience: "svc", now: Date.now() + 3 * 60_000 }), /expired/);
  // a changed claim breaks the signature
  const tampered = `${h}.${toBase64Url(utf8(JSON.stringify({ ...claims, sub: "dev_someoneelse" })))}.${token.split(".")[2]}`;
  assert.throws(() => verifyToken(tampered, ctx.jwks, { audience: "svc", now: Date.now() }), /signature/);
});

K("the authority's Verify refuses a revoked device's token", async () => {
  const { token } = await ctx.c.issueToken("svc", 300);
  const ask = () => admin<{ status: string }>(ctx.d, "Verify", { certificate: Buffer.alloc(0), token, audience: "svc" });
  assert.is((await ask()).status, "valid");
  ctx.c.on("fatal", () => undefined);
  await admin(ctx.d, "RevokeDevice", { id: ctx.id, reason: "tokens test" });
  assert.is((await ask()).status, "revoked");
  // still verifies offline (signature and time are fine): revocation needs the online check
  assert.is(verifyToken(token, ctx.jwks, { audience: "svc", now: Date.now() }).sub, ctx.id);
});

K.run();
