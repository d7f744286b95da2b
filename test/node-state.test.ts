/** The node's state directory: a renewal interrupted by a crash at any point leaves a matching key and certificate. */
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CertificateAuthority, createRootCa } from "@tether/ca";
import { loadCredentials } from "@tether/node";
import { tempDir } from "./helpers.ts";

async function setup() {
  const t = tempDir();
  const now = Date.now();
  const random = (n: number) => new Uint8Array(randomBytes(n));
  const ca = await CertificateAuthority.load(await createRootCa({ commonName: "t", now, randomBytes: random }));
  const mk = async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const c = await ca.issueNodeCert({ deviceId: "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", publicKeySpkiDer: new Uint8Array(publicKey.export({ type: "spki", format: "der" })), now, randomBytes: random });
    return { cert: new X509Certificate(c.certDer).toString(), key: privateKey.export({ type: "pkcs8", format: "pem" }) as string };
  };
  const oldPair = await mk();
  const newPair = await mk();
  const d = t.path;
  writeFileSync(`${d}/ca.pem`, ca.certPem);
  writeFileSync(`${d}/cert.pem`, oldPair.cert);
  writeFileSync(`${d}/tls.key`, oldPair.key);
  writeFileSync(`${d}/node.json`, JSON.stringify({ version: 1, daemon: "127.0.0.1:1", deviceId: "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", name: "n", role: "node", caFingerprint: "", pairedAt: 0, certificateNotAfter: 0 }));
  return { t, d, oldPair, newPair };
}

function matches(d: string): boolean {
  return new X509Certificate(readFileSync(`${d}/cert.pem`)).checkPrivateKey(createPrivateKey(readFileSync(`${d}/tls.key`, "utf8")));
}

test("crash before the new key was written: the new certificate is discarded", async () => {
  const { t, d, oldPair, newPair } = await setup();
  writeFileSync(`${d}/cert.pem.new`, newPair.cert);
  const c = loadCredentials(d);
  assert.is(c.certPem, oldPair.cert);
  assert.ok(matches(d));
  assert.not.ok(existsSync(`${d}/cert.pem.new`));
  t.remove();
});

test("crash with both new files written: both are taken", async () => {
  const { t, d, newPair } = await setup();
  writeFileSync(`${d}/cert.pem.new`, newPair.cert);
  writeFileSync(`${d}/tls.key.new`, newPair.key);
  const c = loadCredentials(d);
  assert.is(c.certPem, newPair.cert);
  assert.ok(matches(d));
  t.remove();
});

test("crash between the two renames: the key follows the certificate", async () => {
  const { t, d, newPair } = await setup();
  writeFileSync(`${d}/cert.pem`, newPair.cert);
  writeFileSync(`${d}/tls.key.new`, newPair.key);
  loadCredentials(d);
  assert.ok(matches(d));
  assert.not.ok(existsSync(`${d}/tls.key.new`));
  t.remove();
});

test.run();
