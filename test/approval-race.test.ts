/**
 * A node may use its certificate the moment it receives it: the daemon makes the device index
 * current before it sends an approval (admin or preauthorized) or a renewed certificate, by
 * waiting for the index update, not by luck. The daemon here delays every index update by
 * 300 ms (startDaemon's test-only indexUpdateDelayMs); with the old order (the decision sent,
 * then the index updated) each node's first call is refused CERT_NOT_CURRENT.
 */
import { X509Certificate, generateKeyPairSync, randomBytes } from "node:crypto";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Metadata } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { awaitSignedMessage, identityFromSeed, identitySign, toHex } from "@tether/crypto";
import { connect, loadOrCreateIdentity, pair } from "@tether/node";
import type { AwaitResponse } from "@tether/wire";
import { admin, handshakeFinish, handshakeStart, mintCode, pinParts, rawNodeClient, rawPairing, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { NodeKeys, TestDaemon } from "./helpers.ts";

const DELAY_MS = 300;
const R = suite("approval race: the index is current before a node learns its certificate");
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon };

R.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data`, indexUpdateDelayMs: DELAY_MS });
});
R.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

type Creds = string | { caPem: string; certPem: string; keyPem: string };

/** One authenticated call with these credentials at once: undefined if accepted, else the refusal. */
async function firstCall(creds: Creds): Promise<string | undefined> {
  const c = (await rawNodeClient(ctx.d.listen, creds)) as unknown as {
    GetJwks(req: object, md: Metadata, o: object, cb: (e: ServiceError | null) => void): void;
    close(): void;
  };
  try {
    return await new Promise((resolve) => c.GetJwks({}, new Metadata(), { deadline: Date.now() + 10_000 }, (e) => resolve(e ? e.details : undefined)));
  } finally {
    c.close();
  }
}

R("admin approval: the node's first call, made as soon as pairing returns, is accepted", async () => {
  const dir = `${ctx.tmp.path}/admin`;
  let approvedAt = 0;
  const r = await pair({
    daemon: ctx.d.listen,
    pin: (await mintCode(ctx.d)).code,
    name: "admin-approved",
    stateDir: dir,
    onVerificationCode: (_c, info) => {
      approvedAt = Date.now();
      void admin(ctx.d, "ApproveRequest", { id: info.requestId, role: "" });
    },
  });
  const waited = Date.now() - approvedAt;
  assert.is(await firstCall(dir), undefined, "first call after approval");
  assert.ok(waited >= DELAY_MS - 20, `the decision waited for the index update (${waited} ms)`);
  // and the SDK's stream registers
  const c = connect(dir);
  c.handle("noop", () => null);
  try {
    await c.start();
  } finally {
    await c.close();
  }
  assert.ok(r.deviceId);
});

R("preauthorized approval: the node's first call, made as soon as pairing returns, is accepted", async () => {
  const dir = `${ctx.tmp.path}/preauth`;
  const id = loadOrCreateIdentity(dir);
  await admin(ctx.d, "Preauthorize", { identityKey: toHex(id.publicKey), name: "", role: "", expiresAt: 0 });
  await pair({ daemon: ctx.d.listen, pin: (await mintCode(ctx.d)).code, name: "factory", stateDir: dir, signal: AbortSignal.timeout(10_000) });
  assert.is(await firstCall(dir), undefined, "first call after a preauthorized approval");
});

R("an Await that arrives after the approval is written but before it is published waits for the index", async () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const seed = new Uint8Array(randomBytes(32));
  const ident = identityFromSeed(seed);
  const keys: NodeKeys = { seed, identityKey: ident.publicKey, secretKey: ident.secretKey, tlsPublicKey: new Uint8Array(publicKey.export({ type: "spki", format: "der" })) };
  const c = rawPairing(ctx.d.listen);
  try {
    const h = await handshakeStart(c, pinParts((await mintCode(ctx.d)).code), keys);
    const { requestId } = await handshakeFinish(c, h);
    const approving = admin(ctx.d, "ApproveRequest", { id: requestId, role: "" });
    // the approval is on disk (the index update is still DELAY_MS away) ...
    await waitFor(async () => (await ctx.d.pairing.listRequests("approved")).some((r) => r.id === requestId), "approval written", 5_000);
    // ... when the node asks
    const timestamp = Date.now();
    const stream = c.Await({ requestId, timestamp, signature: identitySign(keys.secretKey, awaitSignedMessage(requestId, timestamp)) });
    const answer = await new Promise<AwaitResponse>((resolve, reject) => {
      stream.on("data", (m: AwaitResponse) => m.state !== "pending" && resolve(m));
      stream.on("error", reject);
    });
    assert.is(answer.state, "approved");
    const creds = {
      caPem: new X509Certificate(answer.caCertificate).toString(),
      certPem: new X509Certificate(answer.certificate).toString(),
      keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    };
    assert.is(await firstCall(creds), undefined, "first call with the certificate Await sent");
    await approving;
  } finally {
    c.close();
  }
});

R("renewal: the renewed certificate is current before the node receives it", async () => {
  const dir = `${ctx.tmp.path}/renewer`;
  await pair({
    daemon: ctx.d.listen,
    pin: (await mintCode(ctx.d)).code,
    name: "renewer",
    stateDir: dir,
    onVerificationCode: (_c, info) => void admin(ctx.d, "ApproveRequest", { id: info.requestId, role: "" }),
  });
  // (this test is about the renewal: its pairing is given time to be published)
  await waitFor(async () => (await firstCall(dir)) === undefined, "paired certificate current", 5_000);
  const c = connect(dir, { autoRenew: false });
  c.handle("noop", () => null);
  try {
    await c.start();
    for (const rekey of [true, false]) {
      await c.renew({ rekey });
      assert.is(await firstCall(dir), undefined, `first call with the renewed certificate (rekey: ${rekey})`);
    }
  } finally {
    await c.close();
  }
});

R.run();
