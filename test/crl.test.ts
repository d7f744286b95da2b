/**
 * Revocation outside tether's own listener: the CA's signed CRL (checked by openssl) and the
 * online Verify call, against a real daemon.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Metadata } from "@grpc/grpc-js";
import { X509Certificate } from "node:crypto";
import { serialKey, verifyCrl } from "@tether/ca";
import { admin, cli, pairDevice, rawNodeClient, rawNodeStream, startTestDaemon, tempDir, waitFor } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

let offset = 0;
/** When set, the daemon's clock stands still at this time. */
let frozen: number | undefined;
const now = () => frozen ?? Date.now() + offset;
const ctx = {} as { tmp: ReturnType<typeof tempDir>; d: TestDaemon; a: string; b: string };
const C = suite("CRL and Verify");

C.before(async () => {
  ctx.tmp = tempDir();
  ctx.d = await startTestDaemon({ dataDir: `${ctx.tmp.path}/data`, now });
  ctx.a = await pairDevice(ctx.d, `${ctx.tmp.path}/a`, { name: "a" });
  ctx.b = await pairDevice(ctx.d, `${ctx.tmp.path}/b`, { name: "b" });
});
C.after(async () => {
  await ctx.d.stop();
  ctx.tmp.remove();
});

function opensslVerify(cert: string, crl: string): { ok: boolean; out: string } {
  try {
    const out = execFileSync("openssl", ["verify", "-crl_check", "-CAfile", `${ctx.tmp.path}/a/ca.pem`, "-CRLfile", crl, cert], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { ok: true, out };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

async function exportCrl(name: string): Promise<string> {
  const f = `${ctx.tmp.path}/${name}`;
  const r = await cli(["ca", "crl", "--out", f, "--data-dir", ctx.d.dataDir]);
  assert.is(r.code, 0, r.stderr);
  return f;
}

const verify = (certFile: string) => cli(["ca", "verify", certFile, "--json", "--data-dir", ctx.d.dataDir]);

C("with wait_crl, a revocation reaches the CRL before revoke answers, and openssl then refuses the certificate", async () => {
  const before = await exportCrl("crl0.pem");
  assert.ok(opensslVerify(`${ctx.tmp.path}/a/cert.pem`, before).ok, "valid before");
  const aCert = readFileSync(`${ctx.tmp.path}/a/cert.pem`, "utf8");
  writeFileSync(`${ctx.tmp.path}/a-old.pem`, aCert);
  await admin(ctx.d, "RevokeDevice", { id: ctx.a, reason: "lost", waitCrl: true });
  const after = await exportCrl("crl1.pem");
  const r = opensslVerify(`${ctx.tmp.path}/a-old.pem`, after);
  assert.not.ok(r.ok);
  assert.match(r.out, /certificate revoked/);
  assert.ok(opensslVerify(`${ctx.tmp.path}/b/cert.pem`, after).ok, "others stay valid");
  const text = execFileSync("openssl", ["crl", "-in", after, "-noout", "-text"], { encoding: "utf8" });
  assert.match(text, /X509v3 CRL Number/);
  assert.match(text, /X509v3 Authority Key Identifier/);
  assert.match(text, new RegExp(new X509Certificate(aCert).serialNumber.replace(/^0+/, ""), "i"));
});

C("a tampered CRL is rejected", async () => {
  const f = await exportCrl("crl2.der");
  const der = Buffer.from(
    readFileSync(f, "utf8")
      .replace(/-----[^-]+-----/g, "")
      .replace(/\s/g, ""),
    "base64",
  );
  der.writeUInt8((der.at(-5) as number) ^ 0x01, der.length - 5); // inside the signature
  const bad = `${ctx.tmp.path}/bad.pem`;
  writeFileSync(bad, `-----BEGIN X509 CRL-----\n${der.toString("base64")}\n-----END X509 CRL-----\n`);
  const r = opensslVerify(`${ctx.tmp.path}/b/cert.pem`, bad);
  assert.not.ok(r.ok);
  assert.match(r.out, /CRL signature failure|signature/i);
});

C("Verify answers valid, revoked, expired and unknown", async () => {
  const j = (s: string) => JSON.parse(s) as { status: string; deviceId: string; role: string };
  const valid = await verify(`${ctx.tmp.path}/b/cert.pem`);
  assert.is(valid.code, 0);
  assert.equal([j(valid.stdout).status, j(valid.stdout).deviceId, j(valid.stdout).role], ["valid", ctx.b, "node"]);
  const revoked = await verify(`${ctx.tmp.path}/a-old.pem`);
  assert.is(revoked.code, 8);
  assert.is(j(revoked.stdout).status, "revoked");
  // unknown: a certificate from another daemon's CA
  const other = await startTestDaemon();
  try {
    await pairDevice(other, `${ctx.tmp.path}/alien`, { name: "alien" });
  } finally {
    await other.stop();
  }
  assert.is(j((await verify(`${ctx.tmp.path}/alien/cert.pem`)).stdout).status, "unknown");
  // a device asks too, over mutual TLS
  const client = await rawNodeClient(ctx.d.listen, `${ctx.tmp.path}/b`);
  const ask = (der: Buffer) =>
    new Promise<{ status: string }>((res, rej) =>
      (client as unknown as { Verify: (r: object, m: Metadata, o: object, cb: (e: Error | null, x: { status: string }) => void) => void }).Verify(
        { certificate: der },
        new Metadata(),
        {},
        (e, x) => (e ? rej(e) : res(x)),
      ),
    );
  assert.is((await ask(new X509Certificate(readFileSync(`${ctx.tmp.path}/a-old.pem`)).raw)).status, "revoked");
  assert.is((await ask(new X509Certificate(readFileSync(`${ctx.tmp.path}/b/cert.pem`)).raw)).status, "valid");
  client.close();
  // expired: the daemon's clock past the 24 h lifetime
  offset = 25 * 3_600_000;
  try {
    assert.is(j((await verify(`${ctx.tmp.path}/b/cert.pem`)).stdout).status, "expired");
  } finally {
    offset = 0;
  }
});

C("a cleared revocation keeps the old certificate on the CRL", async () => {
  await admin(ctx.d, "ClearRevocation", { id: ctx.a });
  await pairDevice(ctx.d, `${ctx.tmp.path}/a`, { name: "a-again" });
  const crl = await exportCrl("crl3.pem");
  assert.not.ok(opensslVerify(`${ctx.tmp.path}/a-old.pem`, crl).ok, "old certificate still revoked");
  assert.ok(opensslVerify(`${ctx.tmp.path}/a/cert.pem`, crl).ok, "new certificate valid");
});

C("every new CRL has a greater CRL number, even two signed within one second", async () => {
  const c = await pairDevice(ctx.d, `${ctx.tmp.path}/c`, { name: "c" });
  const e = await pairDevice(ctx.d, `${ctx.tmp.path}/e`, { name: "e" });
  const ca = new X509Certificate(readFileSync(`${ctx.tmp.path}/a/ca.pem`)).raw;
  const crl = async () => verifyCrl((await admin<{ crl: Uint8Array }>(ctx.d, "GetCrl", {})).crl, ca);
  // The clock stands still, so both revocations are signed within the same second (a CRL
  // number taken from the time alone would repeat), however fast or slow this machine is.
  frozen = Math.floor(Date.now() / 1000) * 1000 + 500;
  try {
    const n0 = (await crl()).crlNumber;
    await admin(ctx.d, "RevokeDevice", { id: c, reason: "one" });
    const first = await crl();
    await admin(ctx.d, "RevokeDevice", { id: e, reason: "two" });
    const second = await crl();
    assert.is(first.thisUpdate, second.thisUpdate, "both CRLs were signed within one second");
    assert.ok(n0 < first.crlNumber && first.crlNumber < second.crlNumber, `CRL numbers ${n0} < ${first.crlNumber} < ${second.crlNumber}`);
  } finally {
    frozen = undefined;
  }
});

C("a burst of revocations is pushed to a connected node as few CRLs, the last listing every one of them", async () => {
  const watcher = await pairDevice(ctx.d, `${ctx.tmp.path}/w`, { name: "w" });
  const victims: string[] = [];
  for (let i = 0; i < 6; i++) victims.push(await pairDevice(ctx.d, `${ctx.tmp.path}/v${i}`, { name: `v${i}` }));
  const { stream, close } = await rawNodeStream(ctx.d.listen, `${ctx.tmp.path}/w`);
  try {
    const crls: Buffer[] = [];
    const at: number[] = [];
    let registered = false;
    stream.on("data", (m: { registered?: object; crl?: { crl: Buffer } }) => {
      if (m.registered) registered = true;
      else if (m.crl && registered) {
        crls.push(m.crl.crl);
        at.push(performance.now());
      }
    });
    stream.on("error", () => undefined);
    stream.write({ register: { deviceId: watcher, capabilities: [], platform: "x", version: "1", maxConcurrency: 1 } });
    await waitFor(() => registered && crls.length >= 1, "registered, and the CRL sent after it");
    crls.length = 0;
    at.length = 0;
    const serials: string[] = [];
    for (const id of victims) {
      const d = await admin<{ certificateSerial: string }>(ctx.d, "RevokeDevice", { id, reason: "burst" });
      serials.push(d.certificateSerial);
    }
    const caPem = readFileSync(`${ctx.tmp.path}/w/ca.pem`, "utf8");
    const caDer = new Uint8Array(new X509Certificate(caPem).raw);
    const listsAll = async (der: Buffer | undefined) =>
      Boolean(der) &&
      serials.every(
        (
          (set) => (x: string) =>
            set.has(serialKey(x))
        )((await verifyCrl(new Uint8Array(der as Buffer), caDer)).revokedSerials),
      );
    await waitFor(() => listsAll(crls[crls.length - 1]), "a CRL listing all six revocations", 5000);
    await new Promise((r) => setTimeout(r, 300)); // anything still coming
    assert.ok(crls.length < victims.length, `${crls.length} CRL pushes for ${victims.length} revocations one after another`);
    // Pushes start at least CRL_PUSH_INTERVAL_MS (100 ms) apart; arrivals, with some jitter.
    for (let i = 1; i < at.length; i++)
      assert.ok((at[i] as number) - (at[i - 1] as number) >= 50, `pushes ${i} and ${i + 1} arrived ${((at[i] as number) - (at[i - 1] as number)).toFixed(0)} ms apart`);
    assert.ok(await listsAll(crls[crls.length - 1]), "the last one lists every revoked serial");
  } finally {
    close();
  }
});

C.run();
