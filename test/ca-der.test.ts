// The CA's hand-written DER (packages/ca/src/der.ts, tbs.ts) against the @peculiar/x509
// generator it replaced: for the same inputs the TBSCertificate / TBSCertList bytes must be
// identical. The reference generator below is a copy of the code the CA used before, kept
// here on purpose. Every new certificate and CRL is also checked by OpenSSL (strict) and by
// node:crypto's X509Certificate.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CaError,
  CertificateAuthority,
  CLOCK_SKEW_BACKDATE_MS,
  DEFAULT_CA_LIFETIME_MS,
  DEFAULT_NODE_CERT_LIFETIME_MS,
  DEFAULT_SERVER_CERT_LIFETIME_MS,
  DEVICE_URI_PREFIX,
  SIGNER_COMMON_NAME,
  createRootCa,
  derToPem,
} from "../packages/ca/src/index.ts";
import type { KeyMaterial, RandomBytes } from "../packages/ca/src/index.ts";
import { randomSerialHex } from "../packages/ca/src/checks.ts";
import { time, unsignedInteger, smallInteger, oid, readElement } from "../packages/ca/src/der.ts";
import { ECDSA_SHA256, EC_P256, webcrypto, x509 } from "../packages/ca/src/provider.ts";
import { leafTbsCertificate, subjectKeyIdentifier } from "../packages/ca/src/tbs.ts";
import type { GeneralName } from "../packages/ca/src/tbs.ts";

const OPENSSL = "/usr/bin/openssl";
/** A fixed subject key (P-256 SPKI). */
const SUBJECT_SPKI = Uint8Array.from(
  Buffer.from(
    "3059301306072a8648ce3d020106082a8648ce3d030107034200041d240ce15e8a60d24dab9ee619ce21f3e044d2df29f9cba1e47e9eb696183e9bc1cf540298165a80507f6910be4ea545c9e29d30c4b1f07069621321e3003ce0",
    "hex",
  ),
);
const T2030 = Date.UTC(2030, 0, 15, 12, 0, 0, 123);
const T2045 = Date.UTC(2045, 5, 1, 0, 0, 0);
const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;

/** Deterministic "randomness": the same bytes for the same seed, for both code paths. */
const seeded =
  (seed: string): RandomBytes =>
  (n) =>
    Uint8Array.from(createHash("sha256").update(seed).digest().subarray(0, n));
const filled =
  (byte: number): RandomBytes =>
  (n) =>
    new Uint8Array(n).fill(byte);

type Ca = { material: KeyMaterial; ca: CertificateAuthority; pem: string; caPublicKey: X509Certificate["publicKey"] };
let dir = "";
let ca2030: Ca; // valid 2030..2040
let ca2045: Ca; // valid 2045..2055: straddles the UTCTime / GeneralizedTime switch in 2050

async function makeCa(name: string, now: number): Promise<Ca> {
  const material = await createRootCa({ commonName: name, now, randomBytes: seeded(name) });
  const ca = await CertificateAuthority.load(material);
  const pem = join(dir, `${name.replace(/\W/g, "_")}.pem`);
  writeFileSync(pem, ca.certPem);
  return { material, ca, pem, caPublicKey: new X509Certificate(ca.certDer).publicKey };
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tether-ca-der-"));
  ca2030 = await makeCa("tether test root", T2030);
  ca2045 = await makeCa("tether root 2045 ~ (utf8)", T2045);
});

test.after(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// Reference: the @peculiar/x509 code path CertificateAuthority used before (copied verbatim
// apart from being lifted out of the class).

type Kind = "node" | "peer" | "server" | "signer";
type IssueOpts = { now: number; lifetimeMs?: number; randomBytes: RandomBytes; deviceId?: string; hosts?: string[] };

const floorToSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;

function oldSubjectName(commonName: string): x509.JsonName {
  return [{ CN: [commonName] }, { O: ["tether"] }];
}

function oldHostNames(hosts: string[]): x509.JsonGeneralNames {
  const seen = new Set<string>();
  const names: x509.JsonGeneralNames = [];
  for (const host of hosts) {
    let name: x509.JsonGeneralName;
    const family = isIP(host);
    if (family === 4) name = { type: "ip", value: host };
    else if (family === 6) name = { type: "ip", value: new URL(`http://[${host}]/`).hostname.slice(1, -1) };
    else name = { type: "dns", value: host.toLowerCase() };
    const key = `${name.type}:${name.value}`;
    if (!seen.has(key)) {
      seen.add(key);
      names.push(name);
    }
  }
  return names;
}

async function oldGenerate(
  c: Ca,
  p: { serialHex: string; commonName: string; notBefore: number; notAfter: number; spki: Uint8Array; extensions: x509.Extension[] },
): Promise<Uint8Array> {
  const caCert = new x509.X509Certificate(c.material.certDer);
  const signingKey = await webcrypto.subtle.importKey("pkcs8", Uint8Array.from(c.material.keyPkcs8Der), EC_P256, false, ["sign"]);
  const authorityKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? "";
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: p.serialHex,
    subject: oldSubjectName(p.commonName),
    issuer: caCert.subjectName,
    notBefore: new Date(p.notBefore),
    notAfter: new Date(p.notAfter),
    publicKey: p.spki,
    signingKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ...p.extensions,
      await x509.SubjectKeyIdentifierExtension.create(p.spki),
      new x509.AuthorityKeyIdentifierExtension(authorityKeyId),
    ],
  });
  return new Uint8Array(cert.rawData);
}

async function oldIssue(c: Ca, kind: Kind, o: IssueOpts): Promise<Uint8Array> {
  const deviceId = o.deviceId ?? "";
  const [defaultLifetimeMs, commonName, extensions] = {
    node: () =>
      [
        DEFAULT_NODE_CERT_LIFETIME_MS,
        deviceId,
        [new x509.SubjectAlternativeNameExtension([{ type: "url", value: DEVICE_URI_PREFIX + deviceId }]), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
      ] as const,
    peer: () =>
      [
        DEFAULT_NODE_CERT_LIFETIME_MS,
        deviceId,
        [new x509.SubjectAlternativeNameExtension([{ type: "url", value: DEVICE_URI_PREFIX + deviceId }]), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth])],
      ] as const,
    server: () =>
      [
        DEFAULT_SERVER_CERT_LIFETIME_MS,
        "tether daemon",
        [new x509.SubjectAlternativeNameExtension(oldHostNames(o.hosts ?? [])), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth])],
      ] as const,
    signer: () => [DEFAULT_SERVER_CERT_LIFETIME_MS, SIGNER_COMMON_NAME, []] as const,
  }[kind]();
  const serialHex = randomSerialHex(o.randomBytes, "randomBytes");
  const notBefore = floorToSecond(o.now - CLOCK_SKEW_BACKDATE_MS);
  const notAfter = Math.min(floorToSecond(o.now + (o.lifetimeMs ?? defaultLifetimeMs)), c.ca.notAfter);
  return oldGenerate(c, { serialHex, commonName, notBefore, notAfter, spki: SUBJECT_SPKI, extensions: [...extensions] });
}

async function oldCrl(c: Ca, opts: { revoked: { serialHex: string; revokedAt: number }[]; now: number; crlNumber: number; nextUpdateMs: number }): Promise<Uint8Array> {
  const caCert = new x509.X509Certificate(c.material.certDer);
  const signingKey = await webcrypto.subtle.importKey("pkcs8", Uint8Array.from(c.material.keyPkcs8Der), EC_P256, false, ["sign"]);
  const authorityKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? "";
  const now = opts.now;
  let n = opts.crlNumber.toString(16);
  if (n.length % 2) n = `0${n}`;
  if (Number.parseInt(n.slice(0, 2), 16) & 0x80) n = `00${n}`;
  const crlNumberDer = Buffer.from(`02${(n.length / 2).toString(16).padStart(2, "0")}${n}`, "hex");
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subjectName,
    thisUpdate: new Date(floorToSecond(now)),
    nextUpdate: new Date(floorToSecond(now + opts.nextUpdateMs)),
    signingAlgorithm: ECDSA_SHA256,
    signingKey,
    extensions: [new x509.AuthorityKeyIdentifierExtension(authorityKeyId), new x509.Extension("2.5.29.20", false, crlNumberDer)],
    entries: opts.revoked.map((r) => ({ serialNumber: r.serialHex, revocationDate: new Date(floorToSecond(r.revokedAt)) })),
  });
  return new Uint8Array(crl.rawData);
}

// ---------------------------------------------------------------------------------------
// Helpers

/** The top-level children of a DER SEQUENCE (an independent little reader, not der.ts). */
function children(der: Uint8Array): Uint8Array[] {
  const header = (at: number): { body: number; end: number } => {
    const first = der[at + 1] ?? 0;
    if (first < 0x80) return { body: at + 2, end: at + 2 + first };
    const n = first & 0x7f;
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[at + 2 + i] ?? 0);
    return { body: at + 2 + n, end: at + 2 + n + len };
  };
  const outer = header(0);
  assert.is(outer.end, der.length, "no trailing bytes");
  const out: Uint8Array[] = [];
  for (let at = outer.body; at < outer.end;) {
    const { end } = header(at);
    out.push(der.subarray(at, end));
    at = end;
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Same TBS bytes, same outer signatureAlgorithm; only the signature BIT STRING may differ. */
function assertSameStructure(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const [tbsA, algA, sigA, ...restA] = children(actual);
  const [tbsE, algE, sigE] = children(expected);
  assert.is(restA.length, 0, `${what}: three top-level fields`);
  assert.is(hex(tbsA ?? new Uint8Array()), hex(tbsE ?? new Uint8Array()), `${what}: TBS bytes`);
  assert.is(hex(algA ?? new Uint8Array()), hex(algE ?? new Uint8Array()), `${what}: signatureAlgorithm`);
  assert.is(sigA?.[0], 0x03, `${what}: signature is a BIT STRING`);
  assert.is(sigE?.[0], 0x03);
}

/** Run openssl; returns [exit status 0, stdout + stderr]. */
function openssl(args: string[]): [boolean, string] {
  const r = spawnSync(OPENSSL, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return [r.status === 0, `${r.stdout}${r.stderr}`];
}

let written = 0;
function checkIndependently(c: Ca, der: Uint8Array, purpose: "sslclient" | "sslserver" | undefined, at: number, what: string): void {
  const path = join(dir, `cert-${written++}.pem`);
  writeFileSync(path, derToPem(der, "CERTIFICATE"));
  const args = ["verify", "-x509_strict", "-attime", String(Math.floor(at / 1000)), ...(purpose ? ["-purpose", purpose] : []), "-CAfile", c.pem, path];
  const [ok, out] = openssl(args);
  assert.ok(ok, `${what}: openssl ${args.join(" ")}\n${out}`);
  assert.ok(new X509Certificate(der).verify(c.caPublicKey), `${what}: node X509Certificate.verify`);
}

type Case = { what: string; c: () => Ca; kind: Kind; o: IssueOpts };

async function issueNew(c: Ca, kind: Kind, o: IssueOpts): Promise<Uint8Array> {
  const base = { publicKeySpkiDer: SUBJECT_SPKI, now: o.now, randomBytes: o.randomBytes, ...(o.lifetimeMs === undefined ? {} : { lifetimeMs: o.lifetimeMs }) };
  switch (kind) {
    case "node":
      return (await c.ca.issueNodeCert({ ...base, deviceId: o.deviceId ?? "" })).certDer;
    case "peer":
      return (await c.ca.issuePeerServerCert({ ...base, deviceId: o.deviceId ?? "" })).certDer;
    case "server":
      return c.ca.issueServerCert({ ...base, hosts: o.hosts ?? [] });
    case "signer":
      return c.ca.issueSignerCert(base);
  }
}

const PURPOSE: Record<Kind, "sslclient" | "sslserver" | undefined> = { node: "sslclient", peer: "sslserver", server: "sslserver", signer: undefined };

const HOSTS = [
  "localhost",
  "Daemon.Example",
  "*.fleet.example",
  "127.0.0.1",
  "10.255.0.1",
  "::1",
  "fe80::",
  "2001:db8:1:22:333:4444:5:66",
  "2001:DB8::ffff:192.0.2.1",
  "::ffff:10.0.0.1",
  "0:0:0:0:0:0:0:1", // same address as ::1: dropped
  "LOCALHOST", // same name as localhost: dropped
];

const CASES: Case[] = [
  { what: "node, printable CN", c: () => ca2030, kind: "node", o: { deviceId: "dev-01H8XKZ", now: T2030, randomBytes: seeded("a") } },
  { what: "node, UTF8String CN (_ and ~)", c: () => ca2030, kind: "node", o: { deviceId: "dev_01~x.y", now: T2030, randomBytes: seeded("b") } },
  { what: "node, 64-char id", c: () => ca2030, kind: "node", o: { deviceId: "x".repeat(64), now: T2030, randomBytes: seeded("c") } },
  { what: "node, serial from 0xff bytes", c: () => ca2030, kind: "node", o: { deviceId: "d", now: T2030, randomBytes: filled(0xff) } },
  { what: "node, serial from 0x00 bytes", c: () => ca2030, kind: "node", o: { deviceId: "d", now: T2030, randomBytes: filled(0x00) } },
  {
    what: "node, lifetime capped at the CA",
    c: () => ca2030,
    kind: "node",
    o: { deviceId: "d", now: T2030 + DEFAULT_CA_LIFETIME_MS - 10 * DAY, lifetimeMs: 30 * DAY, randomBytes: seeded("d") },
  },
  { what: "peer-server", c: () => ca2030, kind: "peer", o: { deviceId: "dev-01H8XKZ", now: T2030, randomBytes: seeded("e") } },
  { what: "peer-server, UTF8String CN", c: () => ca2030, kind: "peer", o: { deviceId: "p~q", now: T2030 + 17_321, randomBytes: seeded("f") } },
  { what: "server, DNS + IPv4 + IPv6 SANs", c: () => ca2030, kind: "server", o: { hosts: HOSTS, now: T2030, randomBytes: seeded("g") } },
  { what: "server, one IPv4", c: () => ca2030, kind: "server", o: { hosts: ["192.168.1.10"], now: T2030, randomBytes: seeded("h") } },
  { what: "server, one IPv6", c: () => ca2030, kind: "server", o: { hosts: ["2001:db8::1"], now: T2030, randomBytes: seeded("i") } },
  { what: "signer", c: () => ca2030, kind: "signer", o: { now: T2030, randomBytes: seeded("j") } },
  // The RFC 5280 switch: UTCTime through 2049, GeneralizedTime from 2050.
  {
    what: "server, 2049 -> 2051 (GeneralizedTime notAfter)",
    c: () => ca2045,
    kind: "server",
    o: { hosts: HOSTS, now: Date.UTC(2049, 5, 1, 8, 30, 15, 999), lifetimeMs: 730 * DAY, randomBytes: seeded("k") },
  },
  {
    what: "node, notAfter exactly 2050-01-01T00:00:00Z",
    c: () => ca2045,
    kind: "node",
    o: { deviceId: "d", now: Date.UTC(2050, 0, 1) - DEFAULT_NODE_CERT_LIFETIME_MS + 500, randomBytes: seeded("l") },
  },
  {
    what: "node, notBefore 2049-12-31T23:59:59Z",
    c: () => ca2045,
    kind: "node",
    o: { deviceId: "d", now: Date.UTC(2050, 0, 1) + CLOCK_SKEW_BACKDATE_MS - 1, randomBytes: seeded("m") },
  },
  {
    what: "node, notBefore 2050-01-01T00:00:00Z",
    c: () => ca2045,
    kind: "node",
    o: { deviceId: "d", now: Date.UTC(2050, 0, 1) + CLOCK_SKEW_BACKDATE_MS, randomBytes: seeded("n") },
  },
  { what: "peer-server in 2052", c: () => ca2045, kind: "peer", o: { deviceId: "dev-9", now: Date.UTC(2052, 1, 29, 12), randomBytes: seeded("o") } },
  { what: "signer capped at the CA's notAfter (2055)", c: () => ca2045, kind: "signer", o: { now: Date.UTC(2054, 11, 1), lifetimeMs: 3650 * DAY, randomBytes: seeded("p") } },
];

// ---------------------------------------------------------------------------------------

for (const k of CASES) {
  test(`TBSCertificate equals @peculiar/x509's: ${k.what}`, async () => {
    const c = k.c();
    const actual = await issueNew(c, k.kind, k.o);
    const expected = await oldIssue(c, k.kind, k.o);
    assertSameStructure(actual, expected, k.what);
    checkIndependently(c, actual, PURPOSE[k.kind], k.o.now, k.what);
    if (k.kind === "node") {
      assert.is(
        openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-attime", String(Math.floor(k.o.now / 1000)), "-CAfile", c.pem, join(dir, `cert-${written - 1}.pem`)])[0],
        false,
        "client cert is not a server cert",
      );
    }
  });
}

test("the time encodings are the ones RFC 5280 asks for", async () => {
  const at = (now: number) => issueNew(ca2045, "node", { deviceId: "d", now, randomBytes: seeded("t") });
  const text = (der: Uint8Array) => new X509Certificate(der);
  const before2050 = await at(Date.UTC(2049, 11, 30, 12));
  const across = await at(Date.UTC(2049, 11, 31, 12));
  // Tag bytes in the Validity: 0x17 UTCTime, 0x18 GeneralizedTime.
  const validity = (der: Uint8Array) => children(children(der)[0] ?? new Uint8Array())[4] ?? new Uint8Array();
  assert.equal(
    children(validity(before2050)).map((t) => t[0]),
    [0x17, 0x17],
  );
  assert.equal(
    children(validity(across)).map((t) => t[0]),
    [0x17, 0x18],
  );
  assert.is(text(across).validTo, "Jan  1 12:00:00 2050 GMT");
  assert.is(hex(time(Date.UTC(2050, 0, 1), "t")), hex(Buffer.from("180f32303530303130313030303030305a", "hex")));
  assert.is(hex(time(Date.UTC(2049, 11, 31, 23, 59, 59, 999), "t")), hex(Buffer.from("170d3439313233313233353935395a", "hex")));
  assert.is(hex(time(Date.UTC(1950, 0, 1), "t")), hex(Buffer.from("170d3530303130313030303030305a", "hex")));
  for (const bad of [Number.NaN, Date.UTC(1949, 11, 31, 23, 59, 59), Date.UTC(10000, 0, 1), Infinity]) {
    assert.throws(
      () => time(bad, "t"),
      (e: unknown) => e instanceof CaError && e.code === "BAD_INPUT" && /"t"/.test(e.message),
    );
  }
});

test("INTEGER serials: leading 0x00 when the high bit is set, leading zero bytes dropped (against @peculiar/x509)", async () => {
  for (const serialHex of ["ff", "80", "7f", "00ff", "0000ab", "01", "ffffffffffffffffffffffffffffffffffffffff", "8000000000000000000000000000000000000000"]) {
    const notBefore = floorToSecond(T2030);
    const notAfter = floorToSecond(T2030 + DAY);
    const names: GeneralName[] = [{ type: "uri", value: `${DEVICE_URI_PREFIX}s` }];
    const mine = leafTbsCertificate({
      serial: Buffer.from(serialHex, "hex"),
      issuerNameDer: caSubjectDer(ca2030),
      commonName: "s",
      organization: "tether",
      notBefore,
      notAfter,
      spkiDer: SUBJECT_SPKI,
      authorityKeyId: Buffer.from(new x509.X509Certificate(ca2030.material.certDer).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? "", "hex"),
      subjectAltNames: names,
      extKeyUsage: ["clientAuth"],
    });
    const ref = await oldGenerate(ca2030, {
      serialHex,
      commonName: "s",
      notBefore,
      notAfter,
      spki: SUBJECT_SPKI,
      extensions: [
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: `${DEVICE_URI_PREFIX}s` }]),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      ],
    });
    assert.is(hex(mine), hex(children(ref)[0] ?? new Uint8Array()), serialHex);
  }
  assert.is(hex(unsignedInteger(new Uint8Array())), "020100");
  assert.is(hex(unsignedInteger(Uint8Array.of(0, 0))), "020100");
  assert.is(hex(smallInteger(0)), "020100");
  assert.is(hex(smallInteger(128)), "02020080");
  assert.is(hex(smallInteger(Number.MAX_SAFE_INTEGER)), "02071fffffffffffff");
});

function caSubjectDer(c: Ca): Uint8Array {
  return new Uint8Array(new x509.X509Certificate(c.material.certDer).subjectName.toArrayBuffer());
}

test("SKI is SHA-1 of the subjectPublicKey bits, as @peculiar/x509 computes it", async () => {
  const ext = await x509.SubjectKeyIdentifierExtension.create(SUBJECT_SPKI);
  assert.is(hex(subjectKeyIdentifier(SUBJECT_SPKI)), ext.keyId);
  assert.is(hex(subjectKeyIdentifier(SUBJECT_SPKI)), createHash("sha1").update(SUBJECT_SPKI.subarray(26)).digest("hex"));
});

test("OIDs and the DER reader", () => {
  assert.is(hex(oid("1.2.840.10045.4.3.2")), "06082a8648ce3d040302");
  assert.is(hex(oid("2.5.29.37")), "0603551d25");
  assert.is(hex(oid("2.999.3")), "0603883703");
  assert.throws(
    () => oid("3.1"),
    (e: unknown) => e instanceof CaError,
  );
  assert.throws(
    () => oid("1.40"),
    (e: unknown) => e instanceof CaError,
  );
  const el = readElement(ca2030.ca.certDer, 0);
  assert.is(el.end, ca2030.ca.certDer.length);
  assert.throws(
    () => readElement(Uint8Array.of(0x30, 0x05, 0x00), 0),
    (e: unknown) => e instanceof CaError,
  );
  assert.throws(
    () => readElement(Uint8Array.of(0x30, 0x80, 0x00, 0x00), 0),
    (e: unknown) => e instanceof CaError,
  );
});

test("the issuer Name is the CA certificate's subject, byte for byte", async () => {
  for (const c of [ca2030, ca2045]) {
    const leaf = await issueNew(c, "signer", { now: c.ca.notBefore + DAY, randomBytes: seeded("issuer") });
    const leafTbs = children(children(leaf)[0] ?? new Uint8Array());
    const caTbs = children(children(c.ca.certDer)[0] ?? new Uint8Array());
    assert.is(hex(leafTbs[3] ?? new Uint8Array()), hex(caTbs[5] ?? new Uint8Array()));
  }
});

test("hosts: a zone id is refused with BAD_INPUT", async () => {
  try {
    await ca2030.ca.issueServerCert({ publicKeySpkiDer: SUBJECT_SPKI, hosts: ["fe80::1%eth0"], now: T2030, randomBytes: seeded("z") });
    assert.unreachable("expected BAD_INPUT");
  } catch (err) {
    assert.instance(err, CaError);
    assert.is((err as CaError).code, "BAD_INPUT");
    assert.match((err as Error).message, /hosts\[0\]/);
  }
});

// ---------------------------------------------------------------------------------------
// CRLs

const SERIALS = ["abc", "00ff", "7f", "80", "00", "0000", "ff".repeat(20), "4a1b2c3d4e5f60718293a4b5c6d7e8f9", "0001"];

const CRL_CASES: Array<{ what: string; c: () => Ca; opts: { revoked: { serialHex: string; revokedAt: number }[]; now: number; crlNumber: number; nextUpdateMs: number } }> = [
  { what: "empty", c: () => ca2030, opts: { revoked: [], now: T2030, crlNumber: 1, nextUpdateMs: 7 * DAY } },
  {
    what: "assorted serials, crlNumber 128",
    c: () => ca2030,
    opts: {
      revoked: SERIALS.filter((s) => s !== "0000" && s !== "0001").map((serialHex, i) => ({ serialHex, revokedAt: T2030 - i * 1234 })),
      now: T2030,
      crlNumber: 128,
      nextUpdateMs: DAY,
    },
  },
  ...[127, 255, 256, 65535, 2 ** 31, Number.MAX_SAFE_INTEGER].map((crlNumber) => ({
    what: `crlNumber ${crlNumber}`,
    c: () => ca2030,
    opts: { revoked: [{ serialHex: "01", revokedAt: T2030 }], now: T2030 + 999, crlNumber, nextUpdateMs: HOUR + 1 },
  })),
  {
    what: "2049 -> 2050 (GeneralizedTime nextUpdate and revocationDate)",
    c: () => ca2045,
    opts: {
      revoked: [
        { serialHex: "7a".repeat(16), revokedAt: Date.UTC(2049, 11, 31, 23, 59, 59, 999) },
        { serialHex: "ab".repeat(16), revokedAt: Date.UTC(2050, 0, 1, 0, 0, 0, 0) },
      ],
      now: Date.UTC(2050, 0, 1, 0, 0, 30),
      crlNumber: Math.floor(Date.UTC(2050, 0, 1) / 1000),
      nextUpdateMs: 2 * DAY,
    },
  },
  {
    what: "thisUpdate 2049, nextUpdate 2050",
    c: () => ca2045,
    opts: { revoked: [{ serialHex: "12", revokedAt: Date.UTC(2049, 5, 1) }], now: Date.UTC(2049, 11, 31, 12), crlNumber: 5, nextUpdateMs: DAY },
  },
];

for (const k of CRL_CASES) {
  test(`TBSCertList equals @peculiar/x509's: ${k.what}`, async () => {
    const c = k.c();
    const actual = await c.ca.issueCrl(k.opts);
    const expected = await oldCrl(c, k.opts);
    assertSameStructure(actual, expected, k.what);
    const path = join(dir, `crl-${written++}.pem`);
    writeFileSync(path, `-----BEGIN X509 CRL-----\n${Buffer.from(actual).toString("base64")}\n-----END X509 CRL-----\n`);
    const [ok, out] = openssl(["crl", "-in", path, "-CAfile", c.pem, "-noout"]);
    assert.ok(ok && /verify OK/.test(out), `${k.what}: openssl crl -CAfile\n${out}`);
    const tampered = Buffer.from(actual);
    tampered.writeUInt8((tampered.at(-5) ?? 0) ^ 0x01, tampered.length - 5); // inside the signature
    writeFileSync(path, `-----BEGIN X509 CRL-----\n${tampered.toString("base64")}\n-----END X509 CRL-----\n`);
    const [tamperedOk, tamperedOut] = openssl(["crl", "-in", path, "-CAfile", c.pem, "-noout"]);
    assert.ok(!tamperedOk || !/verify OK/.test(tamperedOut), `${k.what}: a tampered CRL must not verify`);
  });
}

test("CRL input checks", async () => {
  const base = { now: T2030, crlNumber: 1, nextUpdateMs: DAY };
  const bad: Array<[string, Parameters<CertificateAuthority["issueCrl"]>[0]]> = [
    [
      "same serial twice",
      {
        ...base,
        revoked: [
          { serialHex: "01", revokedAt: T2030 },
          { serialHex: "0001", revokedAt: T2030 },
        ],
      },
    ],
    ["bad serial", { ...base, revoked: [{ serialHex: "xyz", revokedAt: T2030 }] }],
    ["NaN revokedAt", { ...base, revoked: [{ serialHex: "01", revokedAt: Number.NaN }] }],
    ["NaN nextUpdateMs", { ...base, revoked: [], nextUpdateMs: Number.NaN }],
    ["zero crlNumber", { ...base, revoked: [], crlNumber: 0 }],
  ];
  for (const [what, opts] of bad) {
    try {
      await ca2030.ca.issueCrl(opts);
      assert.unreachable(what);
    } catch (err) {
      assert.instance(err, CaError, what);
      assert.is((err as CaError).code, "BAD_INPUT", what);
    }
  }
});

test.run();
