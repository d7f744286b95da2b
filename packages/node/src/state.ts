/**
 * The node's state directory: its Ed25519 identity key and TLS key (made on first use, mode
 * 0600), and after pairing the certificate, the CA certificate and the daemon's address.
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

/**
 * Load the paired state and TLS material.
 * @throws NodeError STATE_DIR when the directory holds no completed pairing.
 */
export function loadCredentials(dir: string): DeviceCredentials {
  finishRenewal(dir);
  const state = readPairedState(dir);
  if (!state) throw new NodeError("STATE_DIR", `${dir} holds no paired identity; run \`tether node pair\` first`);
  try {
    return {
      state,
      caPem: readFileSync(join(dir, STATE_FILES.ca), "utf8"),
      certPem: readFileSync(join(dir, STATE_FILES.certificate), "utf8"),
      keyPem: new Secret(readFileSync(join(dir, STATE_FILES.tlsKey), "utf8"), "TlsPrivateKey"),
    };
  } catch (cause) {
    throw new NodeError("STATE_DIR", `${dir} is missing part of its pairing (cert.pem, ca.pem or tls.key)`, { cause });
  }
}

/**
 * Store a renewed certificate (and, on a rekey, its new key) so that a crash at any point
 * leaves a matching pair: write cert.pem.new and tls.key.new, then rename the certificate,
 * then the key. finishRenewal() completes or discards an interrupted one at the next load.
 */
export function saveRenewal(dir: string, certPem: string, keyPem: string | undefined, notAfter: number): void {
  const cert = join(dir, STATE_FILES.certificate);
  const key = join(dir, STATE_FILES.tlsKey);
  writeFileAtomic(`${cert}.new`, certPem, 0o644);
  if (keyPem) writeFileAtomic(`${key}.new`, keyPem, 0o600);
  renameSync(`${cert}.new`, cert);
  if (keyPem) renameSync(`${key}.new`, key);
  const state = readPairedState(dir);
  if (state) writeFileAtomic(join(dir, STATE_FILES.node), `${JSON.stringify({ ...state, certificateNotAfter: notAfter }, null, 2)}\n`, 0o644);
}

/** Complete or discard a renewal interrupted by a crash (see saveRenewal). */
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
        const c = new X509Certificate(readFileSync(`${cert}.new`));
        return c.checkPrivateKey(createPrivateKey(readFileSync(key, "utf8")));
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
}
