/**
 * The daemon's key files (ca/): a real `tether daemon` child process on a data directory that
 * has a paired device, then with one file removed, replaced or garbled. The daemon must refuse
 * to start, say which file and how to recover, and leave every byte of the data directory as
 * it was; it makes a CA only in an empty data directory or through `tether ca init`. The
 * server and signer certificates, which the CA issues, are re-issued when missing or wrong.
 */
import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CertificateAuthority, createRootCa, derToPem } from "@tether/ca";
import { DaemonError } from "@tether/daemon";
import { cli, pairDevice, spawnCli, startDaemonProcess, startTestDaemon, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";

const ctx = {} as { tmp: ReturnType<typeof tempDir>; base: string; caFingerprint: string; deviceId: string };
const C = suite("CA files: the daemon never makes a new CA over a live one");

/** Every directory, file and link under `root`, with a SHA-256 of each file's bytes and its mode. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    const st = lstatSync(p);
    const rel = relative(root, p) || ".";
    if (st.isDirectory()) {
      out[rel] = `dir ${(st.mode & 0o777).toString(8)}`;
      for (const e of readdirSync(p)) walk(join(p, e));
    } else if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(p)}`;
    else out[rel] = `file ${(st.mode & 0o777).toString(8)} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`;
  };
  walk(root);
  return out;
}

/** A copy of the paired data directory, changed by `mutate`. */
function copyOfBase(name: string, mutate: (ca: string, dir: string) => void = () => undefined): string {
  const dir = join(ctx.tmp.path, name);
  cpSync(ctx.base, dir, { recursive: true });
  mutate(join(dir, "ca"), dir);
  return dir;
}

/** Start `tether daemon` and wait until it exits or says it is ready (then stop it). */
async function tryStart(dataDir: string): Promise<{ started: boolean; code: number | null; stderr: string; stdout: string }> {
  const d = spawnCli(["daemon", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--json"]);
  const state = await waitFor(() => (d.out().includes('"ready"') ? "ready" : d.child.exitCode !== null ? "exited" : undefined), `daemon on ${dataDir} to exit or be ready`, 60_000);
  if (state === "ready") {
    const code = await stopDaemonProcess(d);
    return { started: true, code, stderr: d.err(), stdout: d.out() };
  }
  return { started: false, code: await d.exited, stderr: d.err(), stdout: d.out() };
}

const otherP256KeyPem = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const GARBAGE_PEM = "-----BEGIN CERTIFICATE-----\nthis is not base64 !!!\n-----END CERTIFICATE-----\n";

C.before(async () => {
  ctx.tmp = tempDir("tether-cafiles-");
  ctx.base = join(ctx.tmp.path, "base");
  const { d, ready } = await startDaemonProcess(ctx.base);
  try {
    ctx.caFingerprint = ready.caFingerprint;
    ctx.deviceId = await pairDevice({ dataDir: ctx.base, listen: ready.listen }, join(ctx.tmp.path, "node"));
  } finally {
    assert.is(await stopDaemonProcess(d), 0);
  }
});

C.after(() => ctx.tmp.remove());

C("the paired data directory has the CA, the keys, the daemon's certificates and a store", () => {
  for (const f of ["ca.pem", "ca.key", "token.key", "seal.key", "server.pem", "server.key", "signer.pem", "signer.key"]) {
    assert.ok(existsSync(join(ctx.base, "ca", f)), f);
  }
  assert.ok(readdirSync(join(ctx.base, "store")).length > 0);
});

type Case = { name: string; mutate: (ca: string, dir: string) => void; names: (ca: string, dir: string) => string[]; wayOut?: RegExp };

// Each case: what is done to a copy of the paired data directory, and what the refusal must name.
// These run `tether daemon` as a child process...
const REFUSED: Case[] = [
  { name: "ca.key deleted", mutate: (ca) => rmSync(join(ca, "ca.key")), names: (ca) => [join(ca, "ca.key")] },
  { name: "ca.pem deleted", mutate: (ca) => rmSync(join(ca, "ca.pem")), names: (ca) => [join(ca, "ca.pem")] },
  {
    name: "ca.key replaced by another valid P-256 key",
    mutate: (ca) => writeFileSync(join(ca, "ca.key"), otherP256KeyPem()),
    names: (ca) => [join(ca, "ca.key"), join(ca, "ca.pem")],
  },
  {
    name: "ca/ emptied, the store still holding the device",
    mutate: (ca) => {
      for (const f of readdirSync(ca)) rmSync(join(ca, f));
    },
    names: (ca, dir) => [ca, join(dir, "store")],
  },
  { name: "token.key deleted", mutate: (ca) => rmSync(join(ca, "token.key")), names: (ca) => [join(ca, "token.key")] },
  { name: "seal.key deleted", mutate: (ca) => rmSync(join(ca, "seal.key")), names: (ca) => [join(ca, "seal.key")] },
  { name: "garbage PEM in ca.pem", mutate: (ca) => writeFileSync(join(ca, "ca.pem"), GARBAGE_PEM), names: (ca) => [join(ca, "ca.pem")] },
];
// ...and these, the same checks, start the daemon in this process (cheaper than a child each).
const REFUSED_IN_PROCESS: Case[] = [
  { name: "ca/ removed, the store still holding the device", mutate: (ca) => rmSync(ca, { recursive: true }), names: (ca, dir) => [ca, join(dir, "store")] },
  {
    name: "garbage PEM in server.key",
    mutate: (ca) => writeFileSync(join(ca, "server.key"), GARBAGE_PEM.replace(/CERTIFICATE/g, "PRIVATE KEY")),
    names: (ca) => [join(ca, "server.key")],
    wayOut: /delete it and start the daemon again/,
  },
  { name: "token.key not JSON", mutate: (ca) => writeFileSync(join(ca, "token.key"), "not json\n"), names: (ca) => [join(ca, "token.key")] },
  {
    name: "seal.key of the wrong length",
    mutate: (ca) => writeFileSync(join(ca, "seal.key"), `${JSON.stringify({ aes256gcmKey: "00".repeat(16) })}\n`),
    names: (ca) => [join(ca, "seal.key")],
  },
  {
    name: "ca.pem replaced by another CA's certificate",
    mutate: (ca) => writeFileSync(join(ca, "ca.pem"), readFileSync(join(ctx.tmp.path, "other-ca.pem"))),
    names: (ca) => [join(ca, "ca.key"), join(ca, "ca.pem")],
  },
];

type Outcome = { started: boolean; code: number | null; message: string };

/** Every way in which `r` differs from a clean refusal of case `c` (empty: it refused properly). */
function refusalProblems(c: Case & { dir: string; before: Record<string, string> }, r: Outcome): string[] {
  const problems: string[] = [];
  const say = (p: string) => problems.push(`${c.name}: ${p}`);
  if (r.started) say("the daemon started");
  else if (r.code !== 1) say(`exit code ${r.code}`);
  for (const n of c.names(join(c.dir, "ca"), c.dir)) if (!r.message.includes(n)) say(`the message does not name ${n}`);
  if (!(c.wayOut ?? /restore .* backup/).test(r.message) || !/nothing was changed/.test(r.message)) say(`the message gives no way out: ${r.message.trim().split("\n").pop()}`);
  const after = tree(c.dir);
  const changed = [...new Set([...Object.keys(after), ...Object.keys(c.before)])].filter((f) => after[f] !== c.before[f]);
  if (changed.length) say(`changed ${changed.sort().join(", ")}`);
  return problems;
}

const prepared = (cases: Case[], prefix: string) =>
  cases.map((c, i) => {
    const dir = copyOfBase(`${prefix}-${i}`, c.mutate);
    return { ...c, dir, before: tree(dir) };
  });

C("with key material missing, mismatched or unreadable, `tether daemon` exits 1, names the file and changes no byte", async () => {
  const cases = prepared(REFUSED, "refused");
  // in parallel: each is a separate process on its own copy
  const results = await Promise.all(cases.map((c) => tryStart(c.dir)));
  // every case is checked before failing, so a failure lists all the cases that went wrong
  assert.equal(
    cases.flatMap((c, i) => {
      const r = results[i] as Awaited<ReturnType<typeof tryStart>>;
      return refusalProblems(c, { started: r.started, code: r.code, message: r.stderr });
    }),
    [],
  );
});

C("more broken key files: the daemon refuses the same way (in process: startDaemon rejects, nothing written)", async () => {
  const other = await createRootCa({ commonName: "tether root CA", now: Date.now(), randomBytes: (n) => new Uint8Array(randomBytes(n)) });
  writeFileSync(join(ctx.tmp.path, "other-ca.pem"), derToPem(other.certDer, "CERTIFICATE"));
  const cases = prepared(REFUSED_IN_PROCESS, "refused-in");
  const problems: string[] = [];
  for (const c of cases) {
    let r: Outcome;
    try {
      const d = await startTestDaemon({ dataDir: c.dir });
      await d.stop();
      r = { started: true, code: 0, message: "" };
    } catch (err) {
      r = { started: false, code: err instanceof DaemonError ? 1 : 99, message: (err as Error).message };
    }
    problems.push(...refusalProblems(c, r));
  }
  assert.equal(problems, []);
});

C("a fresh data directory starts: the daemon makes the CA, its keys and its certificates", async () => {
  const dir = join(ctx.tmp.path, "fresh");
  const r = await tryStart(dir);
  assert.ok(r.started, r.stderr);
  for (const f of ["ca.pem", "ca.key", "token.key", "seal.key", "server.pem", "server.key", "signer.pem", "signer.key"]) {
    assert.ok(existsSync(join(dir, "ca", f)), f);
  }
  // an empty ca/ and an empty store/ are fresh too (nothing there to lose)
  const empty = join(ctx.tmp.path, "empty-dirs");
  mkdirSync(join(empty, "ca"), { recursive: true, mode: 0o700 });
  mkdirSync(join(empty, "store"), { recursive: true, mode: 0o700 });
  const d = await startTestDaemon({ dataDir: empty });
  await d.stop();
  assert.ok(existsSync(join(empty, "ca", "ca.key")));
  assert.ok(d.logs.some((l) => l.includes("root CA created")));
});

C("tether ca init makes the CA in an empty directory; the daemon then starts with that CA", async () => {
  const dir = join(ctx.tmp.path, "init");
  const init = await cli(["ca", "init", "--data-dir", dir, "--json"]);
  assert.is(init.code, 0, init.stderr);
  const out = JSON.parse(init.stdout) as { dataDir: string; caFingerprint: string; files: string[]; notAfter: string };
  assert.is(out.dataDir, dir);
  assert.match(out.caFingerprint, /^[0-9a-f]{64}$/);
  assert.equal(out.files.sort(), ["ca.key", "ca.pem", "seal.key", "token.key"].map((f) => join(dir, "ca", f)).sort());
  assert.is(lstatSync(join(dir, "ca", "ca.key")).mode & 0o777, 0o600);
  assert.is(lstatSync(join(dir, "ca")).mode & 0o777, 0o700);
  assert.not.ok(existsSync(join(dir, "store")), "ca init does not open the store");
  const started = await startDaemonProcess(dir);
  try {
    assert.is(started.ready.caFingerprint, out.caFingerprint);
  } finally {
    await stopDaemonProcess(started.d);
  }
  const human = await cli(["ca", "init", "--data-dir", join(ctx.tmp.path, "init-human")]);
  assert.is(human.code, 0, human.stderr);
  assert.match(human.stdout, /CA fingerprint: [0-9a-f]{64}/);
  assert.match(human.stdout, /tether daemon --data-dir /);
});

C("tether ca init refuses a directory that already has a CA or a store (exit 5) and changes nothing", async () => {
  const storeOnly = copyOfBase("init-store-only", (ca) => rmSync(ca, { recursive: true }));
  for (const dir of [copyOfBase("init-again"), storeOnly]) {
    const before = tree(dir);
    const r = await cli(["ca", "init", "--data-dir", dir, "--json"]);
    assert.is(r.code, 5, r.stderr);
    const e = JSON.parse(r.stderr) as { error: { message: string; exitCode: number } };
    assert.is(e.error.exitCode, 5);
    assert.ok(e.error.message.includes(dir), e.error.message);
    assert.match(e.error.message, /nothing was changed/);
    assert.equal(tree(dir), before);
  }
  const usage = await cli(["ca", "init", "extra", "--data-dir", join(ctx.tmp.path, "init-usage")]);
  assert.is(usage.code, 2);
  assert.not.ok(existsSync(join(ctx.tmp.path, "init-usage")));
});

C("missing or wrong server and signer certificates are re-issued by the CA for the keys on disk; the CA stays", async () => {
  const dir = copyOfBase("reissue", (ca) => rmSync(join(ca, "server.pem")));
  const ca = join(dir, "ca");
  // another CA's signer certificate for the daemon's own signer key: it does not chain to ca.pem
  const other = await CertificateAuthority.load(await createRootCa({ commonName: "someone else", now: Date.now(), randomBytes: (n) => new Uint8Array(randomBytes(n)) }));
  const signerSpki = new X509Certificate(readFileSync(join(ca, "signer.pem"))).publicKey.export({ type: "spki", format: "der" });
  const foreign = await other.issueSignerCert({ publicKeySpkiDer: new Uint8Array(signerSpki), now: Date.now(), randomBytes: (n) => new Uint8Array(randomBytes(n)) });
  writeFileSync(join(ca, "signer.pem"), derToPem(foreign, "CERTIFICATE"));
  const before = tree(dir);

  const d = await startTestDaemon({ dataDir: dir });
  await d.stop();
  assert.is(d.caFingerprint, ctx.caFingerprint, "same CA");
  const reissued = d.logs.filter((l) => l.includes("daemon certificate re-issued")).map((l) => JSON.parse(l) as { file: string; reason: string });
  assert.equal(reissued.map((l) => l.file).sort(), [join(ca, "server.pem"), join(ca, "signer.pem")]);
  assert.match(reissued.find((l) => l.file.endsWith("signer.pem"))?.reason ?? "", /does not verify under ca.pem \(CHAIN_INVALID\)/);
  const after = tree(dir);
  for (const f of ["ca.pem", "ca.key", "token.key", "seal.key", "server.key", "signer.key"]) assert.is(after[`ca/${f}`], before[`ca/${f}`], `${f} unchanged`);
  const caCert = new X509Certificate(readFileSync(join(ca, "ca.pem")));
  const issuedFor = (name: string) => {
    const cert = new X509Certificate(readFileSync(join(ca, `${name}.pem`)));
    assert.ok(cert.verify(caCert.publicKey), `${name}.pem is signed by ca.pem`);
    assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(ca, `${name}.key`)))), `${name}.pem is for ${name}.key`);
  };
  issuedFor("server");
  issuedFor("signer");

  // a missing key: a new key, and a certificate for it (there was no key to keep)
  rmSync(join(ca, "server.key"));
  const d2 = await startTestDaemon({ dataDir: dir });
  await d2.stop();
  issuedFor("server");
  assert.ok(d2.logs.some((l) => l.includes("daemon certificate re-issued") && l.includes("server.key is missing")));
});

C.run();
