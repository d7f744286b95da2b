// Renewals run side by side and share a group commit (packages/pairing/src/devices.ts): many
// renewals of one device at once, with label changes and a revocation among them, must leave
// one consistent record: the newest renewal's certificate, every label, and after a
// revocation no certificate that works and no renewal audited after it.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { Metadata, status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { certFingerprint, derToPem } from "@tether/ca";
import { KeyProofPurpose, identitySign, keyProofMessage, renewSignedMessage } from "@tether/crypto";
import { loadCredentials, loadOrCreateIdentity } from "@tether/node";
import type { Device } from "@tether/wire";
import { admin, pairDevice, rawNodeClient, startTestDaemon, tempDir } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const R = suite("concurrent renewals");
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon };

R.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data` });
});
R.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

type Raw = Record<"Renew" | "GetCrl", (req: object, md: Metadata, o: object, cb: (e: ServiceError | null, r: { certificate: Buffer }) => void) => void> & { close(): void };
const call = (raw: Raw, rpc: "Renew" | "GetCrl", req: object) =>
  new Promise<ServiceError | { certificate: Buffer }>((resolve) => raw[rpc](req, new Metadata(), { deadline: Date.now() + 20_000 }, (e, r) => resolve(e ?? r)));

/** A valid Renew request of device `id` (state in `dir`) for a new key, and that key. */
function renewal(dir: string, id: string): { req: object; key: KeyObject } {
  const key = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  const spki = new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
  const ts = Date.now();
  const signature = identitySign(loadOrCreateIdentity(dir).secretKey.expose(), renewSignedMessage(id, spki, ts));
  const keyProof = new Uint8Array(sign("sha256", keyProofMessage(KeyProofPurpose.Renew, id, spki, ts), { key, dsaEncoding: "der" }));
  return { req: { tlsPublicKey: spki, timestamp: ts, signature, keyProof }, key };
}

/** A Node client that presents `certDer` with `key`. */
async function clientWith(dir: string, certDer: Buffer, key: KeyObject): Promise<Raw> {
  const caPem = loadCredentials(dir).caPem;
  return (await rawNodeClient(ctx.d.listen, {
    caPem,
    certPem: derToPem(new Uint8Array(certDer), "CERTIFICATE"),
    keyPem: key.export({ type: "pkcs8", format: "pem" }) as string,
  })) as unknown as Raw;
}

async function auditOf(id: string) {
  const entries = (await admin<{ entries: { type: string; subject: string; details: string }[] }>(ctx.d, "ListAudit", { since: 0, limit: 0 })).entries;
  return entries.filter((e) => e.subject === id).map((e) => ({ ...e, details: JSON.parse(e.details || "{}") as Record<string, string> }));
}

R("32 renewals of one device at once, with 8 label changes among them: each answered, the record holds the newest certificate and every label", async () => {
  const dir = `${ctx.tmp.path}/a`;
  const id = await pairDevice(ctx.d, dir, { name: "a" });
  const raw = (await rawNodeClient(ctx.d.listen, dir)) as unknown as Raw;
  try {
    const asks = Array.from({ length: 32 }, () => renewal(dir, id));
    const [answers] = await Promise.all([
      Promise.all(asks.map((a) => call(raw, "Renew", a.req))),
      Promise.all(Array.from({ length: 8 }, (_, i) => admin(ctx.d, "SetLabels", { id, set: { [`l${i}`]: `v${i}` }, remove: [] }))),
    ]);
    const fps = answers.map((r, i) => {
      assert.ok("certificate" in r, `renewal ${i}: ${(r as ServiceError).details}`);
      return certFingerprint(new Uint8Array((r as { certificate: Buffer }).certificate));
    });
    assert.is(new Set(fps).size, 32, "32 different certificates");
    const dev = await admin<Device & { labels: Record<string, string> }>(ctx.d, "GetDevice", { id });
    assert.equal(dev.labels, Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`l${i}`, `v${i}`])), "no label change lost to a renewal");
    const renewed = (await auditOf(id)).filter((e) => e.type === "certificate.renewed");
    assert.is(renewed.length, 32, "each renewal audited once");
    // The chain of renewals is one line: each names the one before it, the last is the record's.
    const last = renewed[renewed.length - 1] as (typeof renewed)[number];
    assert.is(dev.certificateFingerprint, last.details.certificate, "the record holds the last renewal audited");
    for (let i = 1; i < renewed.length; i++) assert.is((renewed[i] as (typeof renewed)[number]).details.previous, (renewed[i - 1] as (typeof renewed)[number]).details.certificate);
    const winner = fps.indexOf(dev.certificateFingerprint);
    assert.ok(winner >= 0, "the record's certificate is one the daemon answered");
    const c = await clientWith(dir, (answers[winner] as { certificate: Buffer }).certificate, (asks[winner] as { key: KeyObject }).key);
    try {
      const r = await call(c, "GetCrl", {});
      assert.not.ok("code" in r, `the newest certificate authenticates: ${(r as ServiceError).details}`);
    } finally {
      c.close();
    }
  } finally {
    raw.close();
  }
});

R("renewals in flight when the device is revoked: each is answered or refused, none audited after the revocation, no certificate it answered works", async () => {
  const dir = `${ctx.tmp.path}/b`;
  const id = await pairDevice(ctx.d, dir, { name: "b" });
  const raw = (await rawNodeClient(ctx.d.listen, dir)) as unknown as Raw;
  try {
    const asks = Array.from({ length: 48 }, () => renewal(dir, id));
    const pending = asks.map((a) => call(raw, "Renew", a.req));
    await pending[0]; // some are through, the rest in flight
    await admin(ctx.d, "RevokeDevice", { id, reason: "race" });
    const answers = await Promise.all(pending);
    let ok = 0;
    for (const [i, r] of answers.entries()) {
      if ("certificate" in r) {
        ok++;
        const c = await clientWith(dir, r.certificate, (asks[i] as { key: KeyObject }).key);
        try {
          const after = await call(c, "GetCrl", {});
          assert.ok("code" in after && after.code === status.UNAUTHENTICATED, `renewal ${i}'s certificate is refused after the revocation`);
        } finally {
          c.close();
        }
      } else {
        assert.ok([status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.FAILED_PRECONDITION].includes(r.code), `renewal ${i} refused: ${r.code} ${r.details}`);
        assert.match(r.details, /revoked|not a current certificate/);
      }
    }
    assert.ok(ok >= 1, "the first renewal was answered");
    const events = await auditOf(id);
    const at = events.findIndex((e) => e.type === "device.revoked");
    assert.ok(at >= 0);
    assert.is(events.slice(at).filter((e) => e.type === "certificate.renewed").length, 0, "no renewal written after the revocation");
    assert.is(events.filter((e) => e.type === "certificate.renewed").length, ok, "one audited renewal per certificate answered");
    const dev = await admin<Device>(ctx.d, "GetDevice", { id });
    assert.ok(Number(dev.revokedAt) > 0, "the device stays revoked");
  } finally {
    raw.close();
  }
});

R.run();
