/**
 * Renew and IssuePeerCertificate must prove possession of the key they name (docs/fleet.md
 * §5A.1): a device that signs a request for someone else's public key, with its own valid
 * identity signature, gets no certificate and leaves nothing in the store or the audit log.
 * Also the §5A.1 check values, recomputed with the reference implementation.
 */
import { readFileSync } from "node:fs";
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Metadata, status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import {
  KeyProofPurpose,
  deviceIdFromIdentityKey,
  fromHex,
  identityFromSeed,
  identitySign,
  keyProofMessage,
  p256Verify,
  renewSignedMessage,
  returnSignedMessage,
  returnVerificationCode,
  sha256Hex,
  toHex,
} from "@tether/crypto";
import { connect, loadOrCreateIdentity, renewIfDue } from "@tether/node";
import type { Device } from "@tether/wire";
import { ROOT, admin, pairDevice, rawNodeClient, startTestDaemon, tempDir } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const K = suite("renewal key proof");
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; dir: string; id: string };

K.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data` });
  ctx.dir = `${ctx.tmp.path}/a`;
  ctx.id = await pairDevice(ctx.d, ctx.dir, { name: "a" });
});
K.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

type Rpc = "Renew" | "IssuePeerCertificate";
type Raw = Record<Rpc, (req: object, md: Metadata, o: object, cb: (e: ServiceError | null, r: { certificate: Buffer }) => void) => void> & { close(): void };

const spkiOf = (k: KeyObject) => new Uint8Array(createPublicKey(k).export({ type: "spki", format: "der" }));
const newKey = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
const proofBy = (k: KeyObject, purpose: KeyProofPurpose, spki: Uint8Array, ts: number, deviceId = ctx.id) =>
  new Uint8Array(sign("sha256", keyProofMessage(purpose, deviceId, spki, ts), { key: k, dsaEncoding: "der" }));

/** A request for `spki`, validly signed by this device's identity key, with the given proof. */
function request(spki: Uint8Array, ts: number, keyProof?: Uint8Array) {
  const identity = loadOrCreateIdentity(ctx.dir);
  const signature = identitySign(identity.secretKey.expose(), renewSignedMessage(ctx.id, spki, ts));
  return { tlsPublicKey: spki, timestamp: ts, signature, ...(keyProof ? { keyProof } : {}) };
}

async function call(raw: Raw, rpc: Rpc, req: object): Promise<ServiceError | { certificate: Buffer }> {
  return new Promise((resolve) => raw[rpc](req, new Metadata(), { deadline: Date.now() + 10_000 }, (e, r) => resolve(e ?? r)));
}

/** What a refused request must leave alone: the device record and the certificate events. */
async function issued() {
  const dev = await admin<Device & { peerCertificateSerials?: string[] }>(ctx.d, "GetDevice", { id: ctx.id });
  const audit = (await admin<{ entries: { type: string; subject: string }[] }>(ctx.d, "ListAudit", { since: 0, limit: 0 })).entries;
  const stored = await ctx.d.pairing.getDevice(ctx.id);
  return {
    fingerprint: dev.certificateFingerprint,
    serial: dev.certificateSerial,
    peerSerials: stored.peerCertificateSerials ?? [],
    certificateEvents: audit.filter((e) => e.subject === ctx.id && (e.type === "certificate.renewed" || e.type === "certificate.issued")).length,
  };
}

K("a request naming a key the device does not hold is refused, for Renew and IssuePeerCertificate, and issues nothing", async () => {
  const raw = (await rawNodeClient(ctx.d.listen, ctx.dir)) as unknown as Raw;
  try {
    const victim = newKey(); // someone else's key: the device knows only its public half
    const spki = spkiOf(victim);
    const own = createPrivateKey(readFileSync(`${ctx.dir}/tls.key`, "utf8")); // a key the device does hold
    const before = await issued();
    for (const rpc of ["Renew", "IssuePeerCertificate"] as const) {
      const purpose = rpc === "Renew" ? KeyProofPurpose.Renew : KeyProofPurpose.PeerCertificate;
      const other = rpc === "Renew" ? KeyProofPurpose.PeerCertificate : KeyProofPurpose.Renew;
      const ts = Date.now();
      const cases: [string, object, number, RegExp][] = [
        ["no proof", request(spki, ts), status.INVALID_ARGUMENT, /INVALID_ARGUMENT: "keyProof" is required/],
        ["a proof by another key (the device's own)", request(spki, ts, proofBy(own, purpose, spki, ts)), status.UNAUTHENTICATED, /BAD_SIGNATURE: "keyProof" is not a signature/],
        ["garbage", request(spki, ts, new Uint8Array(71).fill(0x30)), status.UNAUTHENTICATED, /BAD_SIGNATURE/],
        ["r||s instead of DER", request(spki, ts, new Uint8Array(64).fill(1)), status.UNAUTHENTICATED, /BAD_SIGNATURE/],
        ["a proof by the key for the other RPC", request(spki, ts, proofBy(victim, other, spki, ts)), status.UNAUTHENTICATED, /BAD_SIGNATURE/],
        ["a proof by the key over another timestamp", request(spki, ts, proofBy(victim, purpose, spki, ts - 1)), status.UNAUTHENTICATED, /BAD_SIGNATURE/],
        ["a proof by the key for another device", request(spki, ts, proofBy(victim, purpose, spki, ts, "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa")), status.UNAUTHENTICATED, /BAD_SIGNATURE/],
      ];
      for (const [what, req, code, details] of cases) {
        const r = await call(raw, rpc, req);
        assert.ok("code" in r, `${rpc} with ${what}: refused`);
        const e = r as ServiceError;
        assert.is(e.code, code, `${rpc} with ${what}: ${e.details}`);
        assert.match(e.details, details, `${rpc} with ${what}`);
      }
    }
    assert.equal(await issued(), before, "no certificate in the store or the audit log");
    // The same request with a proof by the key itself is accepted, for each RPC.
    for (const rpc of ["Renew", "IssuePeerCertificate"] as const) {
      const ts = Date.now();
      const purpose = rpc === "Renew" ? KeyProofPurpose.Renew : KeyProofPurpose.PeerCertificate;
      const r = await call(raw, rpc, request(spki, ts, proofBy(victim, purpose, spki, ts)));
      assert.ok("certificate" in r, `${rpc} with the key's own proof: ${(r as ServiceError).details}`);
    }
    const after = await issued();
    assert.is.not(after.fingerprint, before.fingerprint);
    assert.is(after.peerSerials.length, before.peerSerials.length + 1);
    assert.is(after.certificateEvents, before.certificateEvents + 2);
  } finally {
    raw.close();
  }
});

K("the SDK proves possession: renewIfDue (rekey and not), a connection's renew and its peer certificate", async () => {
  const dir = `${ctx.tmp.path}/sdk`;
  const id = await pairDevice(ctx.d, dir, { name: "sdk" });
  const fp = async () => (await admin<Device>(ctx.d, "GetDevice", { id })).certificateFingerprint;
  const first = await fp();
  const r1 = await renewIfDue(dir, { force: true });
  assert.ok(r1?.keyPem, "rekeyed");
  assert.is(await fp(), r1?.fingerprint);
  const r2 = await renewIfDue(dir, { force: true, rekey: false });
  assert.is(r2?.keyPem, undefined, "kept its key");
  assert.is(await fp(), r2?.fingerprint);
  assert.is.not(r2?.fingerprint, first);
  const c = connect(dir);
  c.handle("noop", () => null);
  try {
    await c.start();
    const r3 = await c.renew();
    assert.is(await fp(), r3.fingerprint);
    const peer = await c.issuePeerCertificate();
    assert.match(peer.certPem, /BEGIN CERTIFICATE/);
  } finally {
    await c.close();
  }
});

K("fleet.md §5A.1 check values, recomputed with the reference implementation", () => {
  const doc = readFileSync(`${ROOT}/docs/fleet.md`, "utf8");
  const s = doc.slice(doc.indexOf("### 5A.1"), doc.indexOf("### 5A.2"));
  const value = (label: string) => {
    const line = s.split("\n").find((l) => l.startsWith(`| ${label}`));
    assert.ok(line, `row ${label}`);
    return fromHex((/\| `([0-9a-f ]+)` \|$/.exec(line as string)?.[1] ?? "").replace(/ /g, ""));
  };
  const id = identityFromSeed(new Uint8Array(32).fill(1));
  const dev = deviceIdFromIdentityKey(id.publicKey);
  assert.is(dev, "dev_lslustrdpwaswbn4jpkrwobq7l");
  // the P-256 SPKI of the base point (private key d = 1), as in protocol.md Appendix A
  const spki = fromHex(
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004" +
      "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296" +
      "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
  );
  const ts = 1767225600000;
  const renew = renewSignedMessage(dev, spki, ts);
  const proofRenew = keyProofMessage(KeyProofPurpose.Renew, dev, spki, ts);
  const proofPeer = keyProofMessage(KeyProofPurpose.PeerCertificate, dev, spki, ts);
  assert.is(toHex(value("renew signed bytes")), toHex(renew));
  assert.is(toHex(value("`signature` (Ed25519")), toHex(identitySign(id.secretKey, renew)));
  assert.is(toHex(value("key-proof signed bytes, `Node.Renew`")), toHex(proofRenew));
  assert.is(toHex(value("SHA-256 of the `Node.Renew`")), sha256Hex(proofRenew));
  assert.is(toHex(value("key-proof signed bytes, `Node.IssuePeerCertificate`")), toHex(proofPeer));
  assert.is(toHex(value("SHA-256 of the `Node.IssuePeerCertificate`")), sha256Hex(proofPeer));
  const proof = value("a `key_proof` for `Node.Renew`");
  assert.ok(p256Verify(spki, proofRenew, proof), "the printed key_proof verifies");
  assert.not.ok(p256Verify(spki, proofPeer, proof), "and not for IssuePeerCertificate");
});

K("fleet.md §5A.5 check values (Pairing.Return), recomputed with the reference implementation", () => {
  const doc = readFileSync(`${ROOT}/docs/fleet.md`, "utf8");
  const s = doc.slice(doc.indexOf("### 5A.5"), doc.indexOf("## 5B."));
  const value = (label: string) => {
    const line = s.split("\n").find((l) => l.startsWith(`| ${label}`));
    assert.ok(line, `row ${label}`);
    return fromHex((/\| `([0-9a-f ]+)` \|$/.exec(line as string)?.[1] ?? "").replace(/ /g, ""));
  };
  const id = identityFromSeed(new Uint8Array(32).fill(1));
  const dev = deviceIdFromIdentityKey(id.publicKey);
  const spki = fromHex(
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004" +
      "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296" +
      "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
  );
  const ts = 1767225600000;
  const signed = returnSignedMessage(dev, spki, ts);
  const proof = keyProofMessage(KeyProofPurpose.Return, dev, spki, ts);
  assert.is(toHex(value("return signed bytes")), toHex(signed));
  assert.is(signed.length, 161);
  assert.is(toHex(value("`signature` (Ed25519")), toHex(identitySign(id.secretKey, signed)));
  assert.is(toHex(value("key-proof signed bytes, `Pairing.Return`")), toHex(proof));
  assert.is(toHex(value("SHA-256 of the `Pairing.Return`")), sha256Hex(proof));
  const printed = value("a `key_proof` for `Pairing.Return`");
  assert.ok(p256Verify(spki, proof, printed), "the printed key_proof verifies");
  assert.not.ok(p256Verify(spki, keyProofMessage(KeyProofPurpose.Renew, dev, spki, ts), printed), "and not for Node.Renew");
  const code = /The return verification code of these inputs is \*\*`(\d{3}-\d{3})`\*\*/.exec(s)?.[1];
  assert.is(code, returnVerificationCode(signed));
  // The label is no other message's: the same inputs signed for renewal differ.
  assert.is.not(toHex(signed), toHex(renewSignedMessage(dev, spki, ts)));
});

K.run();
