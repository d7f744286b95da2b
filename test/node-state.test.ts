/**
 * The node's state directory: a renewal interrupted by a crash at any point leaves a matching
 * key and certificate; tls-bundle.pem holds a matching pair whatever another process is
 * renewing, and it and the separate files are brought into agreement at the next load.
 */
import { spawn } from "node:child_process";
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CertificateAuthority, createRootCa } from "@tether/ca";
import { loadCredentials } from "@tether/node";
import { saveRenewal } from "../packages/node/src/state.ts";
import { ROOT, tempDir } from "./helpers.ts";

async function setup() {
  const t = tempDir();
  const now = Date.now();
  const random = (n: number) => new Uint8Array(randomBytes(n));
  const ca = await CertificateAuthority.load(await createRootCa({ commonName: "t", now, randomBytes: random }));
  const mk = async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const c = await ca.issueNodeCert({
      deviceId: "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa",
      publicKeySpkiDer: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
      now: Date.now(),
      randomBytes: random,
    });
    return { cert: new X509Certificate(c.certDer).toString(), key: privateKey.export({ type: "pkcs8", format: "pem" }) as string };
  };
  const oldPair = await mk();
  await new Promise((r) => setTimeout(r, 1100)); // X.509 times have whole seconds: newPair is issued later
  const newPair = await mk();
  const d = t.path;
  writeFileSync(`${d}/ca.pem`, ca.certPem);
  writeFileSync(`${d}/cert.pem`, oldPair.cert);
  writeFileSync(`${d}/tls.key`, oldPair.key);
  writeFileSync(
    `${d}/node.json`,
    JSON.stringify({
      version: 1,
      daemon: "127.0.0.1:1",
      deviceId: "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa",
      name: "n",
      role: "node",
      caFingerprint: "",
      pairedAt: 0,
      certificateNotAfter: 0,
    }),
  );
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

const bundleOf = (d: string) => readFileSync(`${d}/tls-bundle.pem`, "utf8");
function bundleMatches(text: string): { cert: string; key: string; ok: boolean } {
  const [cert, ca, key, ...more] = text.match(/-----BEGIN [A-Z ]+-----\n[\s\S]*?-----END [A-Z ]+-----\n/g) ?? [];
  const ok = Boolean(cert && ca && key && !more.length) && new X509Certificate(cert as string).checkPrivateKey(createPrivateKey(key as string));
  return { cert: cert ?? "", key: key ?? "", ok };
}

test("a state directory without tls-bundle.pem gets one at its next load, 0600, certificate, CA, key", async () => {
  const { t, d, oldPair } = await setup();
  const c = loadCredentials(d);
  assert.is(c.certPem, oldPair.cert);
  assert.is(statSync(`${d}/tls-bundle.pem`).mode & 0o777, 0o600);
  assert.is(bundleOf(d), `${oldPair.cert}${readFileSync(`${d}/ca.pem`, "utf8")}${oldPair.key}`);
  t.remove();
});

test("a renewal writes the bundle first: a crash before the separate files leaves them to follow it at the next load", async () => {
  const { t, d, oldPair, newPair } = await setup();
  loadCredentials(d);
  saveRenewal(d, newPair.cert, newPair.key, 0);
  assert.ok(matches(d));
  assert.is(bundleMatches(bundleOf(d)).cert, newPair.cert);
  // the crash: the bundle is new, the separate files are still the old ones
  writeFileSync(`${d}/cert.pem`, oldPair.cert);
  writeFileSync(`${d}/tls.key`, oldPair.key);
  const c = loadCredentials(d);
  assert.is(c.certPem, newPair.cert);
  assert.is(c.keyPem.expose(), newPair.key);
  assert.is(readFileSync(`${d}/cert.pem`, "utf8"), newPair.cert);
  assert.ok(matches(d));
  // and the other half of a crash: the key written, the certificate not yet
  writeFileSync(`${d}/cert.pem`, oldPair.cert);
  loadCredentials(d);
  assert.ok(matches(d));
  assert.is(readFileSync(`${d}/cert.pem`, "utf8"), newPair.cert);
  t.remove();
});

test("renewed by a tether that does not know the bundle: the newer separate files win and the bundle follows", async () => {
  const { t, d, newPair } = await setup();
  loadCredentials(d); // bundle of the old pair
  writeFileSync(`${d}/cert.pem`, newPair.cert);
  writeFileSync(`${d}/tls.key`, newPair.key);
  const c = loadCredentials(d);
  assert.is(c.certPem, newPair.cert);
  assert.is(bundleMatches(bundleOf(d)).cert, newPair.cert);
  t.remove();
});

test("while another process renews again and again, every read of tls-bundle.pem has the certificate's own key", async () => {
  const { t, d, oldPair, newPair } = await setup();
  loadCredentials(d);
  const stop = join(t.path, "stop");
  const writer = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `const { saveRenewal } = await import(${JSON.stringify(join(ROOT, "packages/node/src/state.ts"))});
       const { existsSync, writeFileSync } = await import("node:fs");
       const pairs = ${JSON.stringify([oldPair, newPair])};
       let n = 0;
       writeFileSync(${JSON.stringify(join(t.path, "writing"))}, "");
       while (!existsSync(${JSON.stringify(stop)})) { const p = pairs[n++ % 2]; saveRenewal(${JSON.stringify(d)}, p.cert, p.key, 0); }
       console.log(n);`,
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  writer.stdout.on("data", (x) => (out += x));
  const exited = new Promise((r) => writer.on("close", r));
  while (!existsSync(join(t.path, "writing"))) await new Promise((r) => setTimeout(r, 20));
  let reads = 0;
  let bad = 0;
  let separateMismatch = 0;
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    if (!bundleMatches(bundleOf(d)).ok) bad++;
    const c = loadCredentials(d); // the SDK reads the bundle
    if (!new X509Certificate(c.certPem).checkPrivateKey(createPrivateKey(c.keyPem.expose()))) bad++;
    try {
      if (!matches(d)) separateMismatch++;
    } catch {
      // a file being replaced
    }
    reads++;
  }
  writeFileSync(stop, "");
  await exited;
  unlinkSync(stop);
  console.log(
    `    ${reads} reads during ${out.trim()} renewals by another process: ${bad} mismatched from the bundle; cert.pem + tls.key read apart mismatched ${separateMismatch} times`,
  );
  assert.ok(Number(out) > 20, "the other process renewed many times");
  assert.is(bad, 0);
  t.remove();
});

test.run();
