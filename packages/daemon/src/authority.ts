/**
 * The daemon's key material on disk, in <data-dir>/ca/: the root CA, the listener's server
 * certificate and the pairing-signer certificate. Private keys are PKCS#8 PEM files of mode
 * 0600 in a 0700 folder, never inside LevelDB (docs/security.md). Created on first start,
 * reused later; the server and signer certificates are re-issued when they near expiry or
 * when the listener's host names change.
 */
import { X509Certificate, createPrivateKey, randomBytes as nodeRandomBytes, sign } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import {
  CertificateAuthority,
  createRootCa,
  derToPem,
  generateP256KeyPair,
  pemToDer,
  requireP256Spki,
} from "@tether/ca";
import { Secret, fromHex, identityFromSeed } from "@tether/crypto";
import type { PairingAuthority } from "@tether/pairing";
import { createFileExclusive, writeFileAtomic } from "@tether/base";
import { DaemonError } from "./errors.js";

const RENEW_BEFORE_MS = 30 * 24 * 60 * 60_000;

export type LoadedAuthority = PairingAuthority & {
  ca: CertificateAuthority;
  caPem: string;
  signerCertDer: Uint8Array;
  serverCertPem: string;
  serverKeyPem: Secret<string>;
  refresh(now: number, force?: boolean): Promise<{ server: boolean; signer: boolean }>;
  /** The Ed25519 key that signs device tokens (ca/token.key). */
  tokenPublicKey: Uint8Array;
  tokenSecretKey: Secret<Uint8Array>;
  /** AES-256-GCM key for secrets kept in the store (ca/seal.key). */
  sealKey: Secret<Uint8Array>;
};

/** Load or make the token-signing key: a 32-byte Ed25519 seed in ca/token.key, mode 0600. */
function loadTokenKey(dir: string): { publicKey: Uint8Array; secretKey: Secret<Uint8Array> } {
  const f = join(dir, "token.key");
  if (!existsSync(f)) createFileExclusive(f, `${JSON.stringify({ ed25519Seed: nodeRandomBytes(32).toString("hex") })}\n`, 0o600);
  const seed = fromHex((JSON.parse(readFileSync(f, "utf8")) as { ed25519Seed: string }).ed25519Seed, "token.key");
  const { secretKey, publicKey } = identityFromSeed(seed);
  return { publicKey, secretKey: new Secret(secretKey, "TokenKey") };
}

/**
 * The key that seals secrets the store keeps (each pairing code's PRS): 32 random bytes in
 * `ca/seal.key` (0600), beside the CA key and never in the store, so a copy of the store alone
 * reveals no code.
 */
function loadSealKey(dir: string): Secret<Uint8Array> {
  const f = join(dir, "seal.key");
  if (!existsSync(f)) createFileExclusive(f, `${JSON.stringify({ aes256gcmKey: nodeRandomBytes(32).toString("hex") })}\n`, 0o600);
  const key = fromHex((JSON.parse(readFileSync(f, "utf8")) as { aes256gcmKey: string }).aes256gcmKey, "seal.key");
  if (key.length !== 32) throw new DaemonError("BAD_DATA_DIR", `${f} does not hold a 32-byte key`);
  return new Secret(key, "SealKey");
}

const random = (n: number) => new Uint8Array(nodeRandomBytes(n));

function readPair(dir: string, name: string): { certDer: Uint8Array; keyPkcs8Der: Uint8Array } | undefined {
  const c = join(dir, `${name}.pem`);
  const k = join(dir, `${name}.key`);
  if (!existsSync(c) || !existsSync(k)) return undefined;
  return { certDer: pemToDer(readFileSync(c, "utf8")), keyPkcs8Der: pemToDer(readFileSync(k, "utf8")) };
}

function writePair(dir: string, name: string, certDer: Uint8Array, keyPkcs8Der: Uint8Array): void {
  // Key first: a crash in between leaves a key without a certificate, which is re-made.
  writeFileAtomic(join(dir, `${name}.key`), derToPem(keyPkcs8Der, "PRIVATE KEY"), 0o600);
  writeFileAtomic(join(dir, `${name}.pem`), derToPem(certDer, "CERTIFICATE"), 0o644);
}

/** Host names and addresses the server certificate must carry. */
export function serverHosts(listenHost: string, advertiseHost?: string): string[] {
  const hosts = new Set<string>(["localhost", "127.0.0.1", "::1"]);
  if (listenHost === "0.0.0.0" || listenHost === "::") hosts.add(hostname());
  else hosts.add(listenHost);
  if (advertiseHost) hosts.add(advertiseHost);
  return [...hosts].sort();
}

function nearExpiry(certDer: Uint8Array, now: number): boolean {
  return Date.parse(new X509Certificate(certDer).validTo) - now < RENEW_BEFORE_MS;
}

/** The server certificate's host list is kept beside it, so a changed --listen re-issues it. */
function hostsChanged(dir: string, hosts: string[]): boolean {
  const f = join(dir, "server.hosts");
  return !existsSync(f) || readFileSync(f, "utf8") !== JSON.stringify(hosts);
}

type Pair = { certDer: Uint8Array; keyPkcs8Der: Uint8Array };

async function ensureServer(dir: string, ca: CertificateAuthority, hosts: string[], now: number, force = false): Promise<{ pair: Pair; fresh: boolean }> {
  const server = readPair(dir, "server");
  if (server && !force && !nearExpiry(server.certDer, now) && !hostsChanged(dir, hosts)) return { pair: server, fresh: false };
  const kp = await generateP256KeyPair();
  const certDer = await ca.issueServerCert({ publicKeySpkiDer: kp.publicKeySpkiDer, hosts, now, randomBytes: random });
  const pair = { certDer, keyPkcs8Der: kp.privateKeyPkcs8Der };
  writePair(dir, "server", pair.certDer, pair.keyPkcs8Der);
  writeFileAtomic(join(dir, "server.hosts"), JSON.stringify(hosts), 0o644);
  return { pair, fresh: true };
}

async function ensureSigner(dir: string, ca: CertificateAuthority, now: number, force = false): Promise<{ pair: Pair; fresh: boolean }> {
  const signer = readPair(dir, "signer");
  if (signer && !force && !nearExpiry(signer.certDer, now)) return { pair: signer, fresh: false };
  const kp = await generateP256KeyPair();
  const certDer = await ca.issueSignerCert({ publicKeySpkiDer: kp.publicKeySpkiDer, now, randomBytes: random });
  const pair = { certDer, keyPkcs8Der: kp.privateKeyPkcs8Der };
  writePair(dir, "signer", pair.certDer, pair.keyPkcs8Der);
  return { pair, fresh: true };
}

export async function loadOrCreateAuthority(o: {
  dataDir: string;
  hosts: string[];
  now: number;
  nodeCertLifetimeMs?: number;
}): Promise<LoadedAuthority> {
  const dir = join(o.dataDir, "ca");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let root = readPair(dir, "ca");
  if (!root) {
    root = await createRootCa({ commonName: "tether root CA", now: o.now, randomBytes: random });
    writePair(dir, "ca", root.certDer, root.keyPkcs8Der);
  }
  const ca = await CertificateAuthority.load(root);
  const server = (await ensureServer(dir, ca, o.hosts, o.now)).pair;
  const signer = (await ensureSigner(dir, ca, o.now)).pair;
  const tokenKey = loadTokenKey(dir);
  const sealKey = loadSealKey(dir);
  let signerKey = createPrivateKey({ key: Buffer.from(signer.keyPkcs8Der), format: "der", type: "pkcs8" });
  const a: LoadedAuthority = {
    ca,
    caPem: ca.certPem,
    caCertDer: ca.certDer,
    caFingerprint: ca.fingerprint,
    signerCertDer: signer.certDer,
    serverCertPem: derToPem(server.certDer, "CERTIFICATE"),
    serverKeyPem: new Secret(derToPem(server.keyPkcs8Der, "PRIVATE KEY"), "ServerKey"),
    /**
     * Re-issue the server and signer certificates that are within 30 days of expiry (or all,
     * with `force`), on disk and in this object; the caller presents the new server identity.
     */
    refresh: async (now: number, force = false) => {
      const sv = await ensureServer(dir, ca, o.hosts, now, force);
      const sg = await ensureSigner(dir, ca, now, force);
      if (sv.fresh) {
        a.serverCertPem = derToPem(sv.pair.certDer, "CERTIFICATE");
        a.serverKeyPem = new Secret(derToPem(sv.pair.keyPkcs8Der, "PRIVATE KEY"), "ServerKey");
      }
      if (sg.fresh) {
        signerKey = createPrivateKey({ key: Buffer.from(sg.pair.keyPkcs8Der), format: "der", type: "pkcs8" });
        a.signerCertDer = sg.pair.certDer;
      }
      return { server: sv.fresh, signer: sg.fresh };
    },
    sealKey,
    tokenPublicKey: tokenKey.publicKey,
    tokenSecretKey: tokenKey.secretKey,
    checkNodePublicKey: (spkiDer) => void requireP256Spki(spkiDer, "tlsPublicKey"),
    signTranscript: (message) => new Uint8Array(sign("sha256", message, signerKey)),
    issuePeerServerCert: async ({ deviceId, publicKeySpkiDer, now }) => {
      const c = await ca.issuePeerServerCert({ deviceId, publicKeySpkiDer, now, randomBytes: random, ...(o.nodeCertLifetimeMs ? { lifetimeMs: o.nodeCertLifetimeMs } : {}) });
      return { certDer: c.certDer, fingerprint: c.fingerprint, serialHex: c.serialHex, notAfter: c.notAfter };
    },
    issueNodeCert: async ({ deviceId, publicKeySpkiDer, now }) => {
      const c = await ca.issueNodeCert({
        deviceId,
        publicKeySpkiDer,
        now,
        randomBytes: random,
        ...(o.nodeCertLifetimeMs ? { lifetimeMs: o.nodeCertLifetimeMs } : {}),
      });
      return { certDer: c.certDer, fingerprint: c.fingerprint, serialHex: c.serialHex, notAfter: c.notAfter };
    },
  };
  return a;
}
