/**
 * The node's state directory: its Ed25519 identity key and TLS key (made on first use, mode
 * 0600), and after pairing the certificate, the CA certificate and the daemon's address. The
 * certificate, its key and the CA certificate are also kept together in one file,
 * tls-bundle.pem, replaced atomically on every renewal: a reader of that one file never gets a
 * key that does not match the certificate (docs/operations.md, "The node's state directory").
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { Secret, fromHex, identityFromSeed, toHex } from "@tether/crypto";
import { createFileExclusive, writeFileAtomic } from "@tether/base";
import { NodeError } from "./errors.js";

export const NODE_STATE_ENV = "TETHER_NODE_HOME";

/** $TETHER_NODE_HOME, else ~/.tether-node */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env[NODE_STATE_ENV] || join(homedir(), ".tether-node"));
}

export const STATE_FILES = {
  identity: "identity.json",
  tlsKey: "tls.key",
  certificate: "cert.pem",
  ca: "ca.pem",
  node: "node.json",
  crl: "crl.der",
  /** the certificate, the CA certificate and the key, in that order, in one file (0600) */
  bundle: "tls-bundle.pem",
} as const;

export type Identity = { publicKey: Uint8Array; secretKey: Secret<Uint8Array> };
export type TlsKey = { spkiDer: Uint8Array; pkcs8Pem: Secret<string> };

/** What `node.json` holds once pairing has finished. */
export type PairedState = {
  version: 1;
  daemon: string;
  deviceId: string;
  name: string;
  role: string;
  caFingerprint: string;
  pairedAt: number;
  certificateNotAfter: number;
};

export function ensureStateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if (!st.isDirectory()) throw new Error("not a directory");
    if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700); // it holds private keys
  } catch (cause) {
    throw new NodeError("STATE_DIR", `cannot use state directory ${dir}: ${(cause as Error).message}`, { cause });
  }
}

/** Load the identity key, making it on first use. */
export function loadOrCreateIdentity(dir: string): Identity {
  ensureStateDir(dir);
  const f = join(dir, STATE_FILES.identity);
  if (!existsSync(f)) {
    // Exclusive: two processes starting at once end up with the same identity.
    const seed = new Uint8Array(randomBytes(32));
    createFileExclusive(f, `${JSON.stringify({ version: 1, ed25519Seed: toHex(seed) })}\n`, 0o600);
    seed.fill(0);
  }
  let seedHex: unknown;
  try {
    seedHex = (JSON.parse(readFileSync(f, "utf8")) as { ed25519Seed?: unknown }).ed25519Seed;
  } catch (cause) {
    throw new NodeError("STATE_DIR", `${f} is not readable JSON`, { cause });
  }
  if (typeof seedHex !== "string" || !/^[0-9a-f]{64}$/.test(seedHex)) throw new NodeError("STATE_DIR", `${f} holds no valid identity key`);
  const { secretKey, publicKey } = identityFromSeed(fromHex(seedHex));
  return { publicKey, secretKey: new Secret(secretKey, "IdentityKey") };
}

/** Load the TLS key (ECDSA P-256), making it on first use. Its private half never leaves here. */
export function loadOrCreateTlsKey(dir: string): TlsKey {
  ensureStateDir(dir);
  const f = join(dir, STATE_FILES.tlsKey);
  if (!existsSync(f)) {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    createFileExclusive(f, privateKey.export({ type: "pkcs8", format: "pem" }) as string, 0o600);
  }
  const pem = readFileSync(f, "utf8");
  const spkiDer = new Uint8Array(createPublicKey(createPrivateKey(pem)).export({ type: "spki", format: "der" }));
  return { spkiDer, pkcs8Pem: new Secret(pem, "TlsPrivateKey") };
}

/** Write the pairing result; node.json goes last, so its presence means the rest is there. */
export function savePairedState(dir: string, certPem: string, caPem: string, state: PairedState): void {
  writeBundle(dir, { certPem, caPem, keyPem: readFileSync(join(dir, STATE_FILES.tlsKey), "utf8") });
  writeFileAtomic(join(dir, STATE_FILES.certificate), certPem, 0o644);
  writeFileAtomic(join(dir, STATE_FILES.ca), caPem, 0o644);
  writeFileAtomic(join(dir, STATE_FILES.node), `${JSON.stringify(state, null, 2)}\n`, 0o644);
}

export function readPairedState(dir: string): PairedState | undefined {
  const f = join(dir, STATE_FILES.node);
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, "utf8")) as PairedState;
}

/** Everything a paired device needs for mutual TLS with its daemon. */
export type DeviceCredentials = { state: PairedState; caPem: string; certPem: string; keyPem: Secret<string> };

type Material = { certPem: string; caPem: string; keyPem: string };

/** The PEM blocks of a text, in order, each with its type ("CERTIFICATE", "PRIVATE KEY"). */
function pemBlocks(text: string): { type: string; pem: string }[] {
  const out: { type: string; pem: string }[] = [];
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----\r?\n?/g)) {
    out.push({ type: m[1] as string, pem: m[0].endsWith("\n") ? m[0] : `${m[0]}\n` });
  }
  return out;
}

/** tls-bundle.pem's text: the device certificate, the CA certificate, then the private key. */
function bundleText(m: Material): string {
  const nl = (p: string) => (p.endsWith("\n") ? p : `${p}\n`);
  return `${nl(m.certPem)}${nl(m.caPem)}${nl(m.keyPem)}`;
}

/**
 * Read tls-bundle.pem: exactly two CERTIFICATE blocks (the device's, then the CA's) and one
 * PRIVATE KEY block. Undefined when there is none.
 * @throws NodeError STATE_DIR when it is malformed or its key does not match its certificate.
 */
function readBundle(dir: string): Material | undefined {
  const f = join(dir, STATE_FILES.bundle);
  if (!existsSync(f)) return undefined;
  const blocks = pemBlocks(readFileSync(f, "utf8"));
  const certs = blocks.filter((b) => b.type === "CERTIFICATE");
  const keys = blocks.filter((b) => b.type === "PRIVATE KEY");
  if (certs.length !== 2 || keys.length !== 1 || blocks.length !== 3) {
    throw new NodeError("STATE_DIR", `${f} must hold two CERTIFICATE blocks (the device's, then the CA's) and one PRIVATE KEY block`);
  }
  const m = { certPem: (certs[0] as { pem: string }).pem, caPem: (certs[1] as { pem: string }).pem, keyPem: (keys[0] as { pem: string }).pem };
  if (!matching(m)) throw new NodeError("STATE_DIR", `${f}: its key does not match its certificate`);
  return m;
}

function writeBundle(dir: string, m: Material): void {
  writeFileAtomic(join(dir, STATE_FILES.bundle), bundleText(m), 0o600);
}

/** Whether the key is the certificate's. */
function matching(m: { certPem: string; keyPem: string }): boolean {
  try {
    return new X509Certificate(m.certPem).checkPrivateKey(createPrivateKey(m.keyPem));
  } catch {
    return false;
  }
}

/** When a certificate was issued (its notBefore), to tell the newer of two apart. */
function issuedAt(certPem: string): number {
  return Date.parse(new X509Certificate(certPem).validFrom);
}

/**
 * A stamp of tls-bundle.pem (inode, size, modification time): it changes whenever a renewal,
 * by this process or another, replaces the file. Undefined when there is no bundle.
 */
export function credentialsStamp(dir: string): string | undefined {
  try {
    const st = statSync(join(dir, STATE_FILES.bundle));
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/**
 * Load the paired state and TLS material, from tls-bundle.pem (one read, so the key always
 * matches the certificate, whatever another process is renewing meanwhile).
 * @throws NodeError STATE_DIR when the directory holds no completed pairing.
 */
export function loadCredentials(dir: string): DeviceCredentials {
  finishRenewal(dir);
  const state = readPairedState(dir);
  if (!state) throw new NodeError("STATE_DIR", `${dir} holds no paired identity; run \`tether node pair\` first`);
  const m = readBundle(dir) ?? separateFiles(dir);
  return { state, caPem: m.caPem, certPem: m.certPem, keyPem: new Secret(m.keyPem, "TlsPrivateKey") };
}

function separateFiles(dir: string): Material {
  try {
    return {
      caPem: readFileSync(join(dir, STATE_FILES.ca), "utf8"),
      certPem: readFileSync(join(dir, STATE_FILES.certificate), "utf8"),
      keyPem: readFileSync(join(dir, STATE_FILES.tlsKey), "utf8"),
    };
  } catch (cause) {
    throw new NodeError("STATE_DIR", `${dir} is missing part of its pairing (cert.pem, ca.pem or tls.key)`, { cause });
  }
}

/**
 * Store a renewed certificate and its key (the new one on a rekey, else the current one):
 * first tls-bundle.pem, in one atomic write (the commit point), then tls.key and cert.pem
 * (kept for readers of separate files), then node.json. A crash between the writes is
 * repaired at the next load (finishRenewal).
 */
export function saveRenewal(dir: string, certPem: string, keyPem: string, notAfter: number): void {
  const caPem = readFileSync(join(dir, STATE_FILES.ca), "utf8");
  writeBundle(dir, { certPem, caPem, keyPem });
  writeFileAtomic(join(dir, STATE_FILES.tlsKey), keyPem, 0o600);
  writeFileAtomic(join(dir, STATE_FILES.certificate), certPem, 0o644);
  const state = readPairedState(dir);
  if (state) writeFileAtomic(join(dir, STATE_FILES.node), `${JSON.stringify({ ...state, certificateNotAfter: notAfter }, null, 2)}\n`, 0o644);
}

/**
 * Complete or discard a renewal interrupted by a crash, and bring tls-bundle.pem and the
 * separate files into agreement: the newer matching pair wins (the bundle on a tie, since a
 * renewal writes it first), and a missing bundle is made from the separate files. Files from
 * renewals by an older tether (cert.pem.new, tls.key.new, then renamed) are handled first.
 */
export function finishRenewal(dir: string): void {
  const cert = join(dir, STATE_FILES.certificate);
  const key = join(dir, STATE_FILES.tlsKey);
  const certNew = existsSync(`${cert}.new`);
  const keyNew = existsSync(`${key}.new`);
  if (certNew && !keyNew) {
    // Crashed before the new key was written, or a renewal that kept its key: the new
    // certificate is only usable if it matches the key we have.
    const matches = (() => {
      try {
        return matching({ certPem: readFileSync(`${cert}.new`, "utf8"), keyPem: readFileSync(key, "utf8") });
      } catch {
        return false;
      }
    })();
    if (matches) renameSync(`${cert}.new`, cert);
    else unlinkSync(`${cert}.new`);
  } else if (certNew && keyNew) {
    renameSync(`${cert}.new`, cert);
    renameSync(`${key}.new`, key);
  } else if (keyNew) {
    renameSync(`${key}.new`, key);
  }
  if (!existsSync(join(dir, STATE_FILES.node))) return; // not paired (yet): nothing to agree on
  if (agree(dir, false)) return;
  // Repairs are written under the renewal lock; while another process holds it, that process
  // is renewing and will leave the files in agreement itself.
  const unlock = tryStateLock(dir);
  if (!unlock) return;
  try {
    agree(dir, true);
  } finally {
    unlock();
  }
}

/** Whether tls-bundle.pem and the separate files agree; with `repair`, make them agree. */
function agree(dir: string, repair: boolean): boolean {
  let files: Material;
  try {
    files = separateFiles(dir);
  } catch {
    return true; // loadCredentials says what is missing
  }
  const bundle = readBundle(dir);
  if (bundle && bundle.certPem === files.certPem && bundle.keyPem === files.keyPem && bundle.caPem === files.caPem) return true;
  const filesOk = matching(files);
  if (!bundle && !filesOk) return true; // nothing better to offer: loadCredentials uses the files as they are
  if (!repair) return false;
  if (!bundle || (filesOk && bundle.caPem === files.caPem && issuedAt(files.certPem) > issuedAt(bundle.certPem))) {
    writeBundle(dir, files); // made from the files, or renewed by a tether that does not know the bundle
  } else {
    writeFileAtomic(join(dir, STATE_FILES.tlsKey), bundle.keyPem, 0o600);
    writeFileAtomic(join(dir, STATE_FILES.certificate), bundle.certPem, 0o644);
  }
  return true;
}

/** The renewal lock of a state directory; one older than this is a crashed process's, and is taken over. */
const LOCK_STALE_MS = 60_000;

/**
 * Take the state directory's renewal lock (renew.lock): one process at a time renews or
 * repairs the certificate files. Returns the unlock function, or undefined while another
 * process holds it.
 */
export function tryStateLock(dir: string): (() => void) | undefined {
  const lock = join(dir, "renew.lock");
  try {
    if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
  } catch {
    // no lock, or another process just took the stale one over
  }
  try {
    if (!createFileExclusive(lock, `${process.pid}\n`, 0o600)) return undefined;
  } catch {
    return undefined;
  }
  return () => {
    try {
      unlinkSync(lock);
    } catch {
      // already gone (taken over as stale)
    }
  };
}
