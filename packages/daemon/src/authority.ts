/**
 * The daemon's key material: the root CA, the listener's server certificate and the
 * pairing-signer certificate, with the token and seal keys. With the embedded store it is on
 * disk, in <data-dir>/ca/: private keys are PKCS#8 PEM files of mode 0600 in a 0700 folder,
 * never inside LevelDB (docs/security.md). With a shared PostgreSQL store the CA, token, seal
 * and signer keys are in the database, sealed under the key-encryption key (vault.ts), so
 * that every replica is the one authority; each replica's server certificate stays in its own
 * data directory, since it names that replica's addresses. The CA is created only where there
 * is nothing yet (an empty data directory; an empty database) and never replaced; the server
 * and signer certificates are re-issued when missing or wrong, when they near expiry, or when
 * the listener's host names change.
 */
import { X509Certificate, createPrivateKey, createPublicKey, randomBytes as nodeRandomBytes, sign } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { CaError, CertificateAuthority, certSpkiDer, createRootCa, derToPem, generateP256KeyPair, pemToDer, requireP256Spki, verifyIssuedBy } from "@tether/ca";
import type { PemLabel } from "@tether/ca";
import { Secret, fromHex, identityFromSeed } from "@tether/crypto";
import type { PairingAuthority } from "@tether/pairing";
import { createDirExclusive, writeFileAtomic } from "@tether/base";
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

/*
 * Start-time checks (docs/operations.md, "Start-time checks"). The CA pair, token.key and
 * seal.key are made in one piece, and only in an empty data directory (first start, or
 * `tether ca init`); later they are only read. A start that finds one of them missing,
 * mismatched or unreadable stops before it writes anything, naming the file. The server and
 * signer certificates are the CA's to issue, so they are re-issued when missing or wrong.
 */

const WAY_OUT = 'restore it from a backup of the data directory (docs/operations.md, "Start-time checks"); nothing was changed';
const START_OVER =
  'restore ca/ from a backup of the data directory, or, to start over with a new CA (every device must pair again), move the data directory aside (docs/operations.md, "Start-time checks"); nothing was changed';

/**
 * Where key material is read and written by name ("ca.key", "server.pem", ...): a folder of
 * files (filePlace), or the database's sealed vault (vault.ts). `label` names an item in
 * messages: a file's path, or the vault's item.
 */
export type KeyPlace = {
  label(name: string): string;
  /** the item's text, or undefined when there is none */
  read(name: string): string | undefined;
  write(name: string, text: string, mode: number): Promise<void>;
  /** nothing stored there yet */
  isEmpty(): boolean;
  /**
   * Make the CA, token.key and seal.key there, all or none: `make` writes them into the
   * place it is given. False when another process made them first (read theirs).
   */
  create(make: (into: KeyPlace) => Promise<void>): Promise<boolean>;
};

/** The key files in `dir` (a 0700 folder; files written atomically). */
export function filePlace(dir: string): KeyPlace {
  const at = (d: string): KeyPlace => ({
    label: (name) => join(d, name),
    read: (name) => readText(join(d, name)),
    write: (name, text, mode) => {
      mkdirSync(d, { recursive: true, mode: 0o700 }); // a replica's ca/ holds only its server files, made at its first start
      writeFileAtomic(join(d, name), text, mode);
      return Promise.resolve();
    },
    isEmpty: () => isEmptyDir(d),
    create: (make) => createDirExclusive(d, 0o700, (tmp) => make(at(tmp))),
  });
  return at(dir);
}

/** The text of `file`, or undefined when there is no such file. */
function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new DaemonError("BAD_KEY_FILE", `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): ${WAY_OUT}`, { cause: err });
  }
}

/** True when `dir` does not exist or has nothing in it. */
function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw new DaemonError("BAD_DATA_DIR", `${dir} cannot be listed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
}

/** One PEM block of `file` as DER. */
function pemOf(file: string, text: string, label: PemLabel, wayOut = WAY_OUT): Uint8Array {
  try {
    return pemToDer(text, label);
  } catch (cause) {
    throw new DaemonError("BAD_KEY_FILE", `${file} is not a readable PEM ${label === "CERTIFICATE" ? "certificate" : "private key"}: ${wayOut}`, { cause });
  }
}

/** A JSON key file ({"<field>": "<64 hex digits>"}) as its 32 bytes. */
function readHexKey(place: KeyPlace, name: string, field: string, purpose: string): Uint8Array {
  const file = place.label(name);
  const text = place.read(name);
  if (text === undefined) {
    throw new DaemonError("KEY_MISSING", `${file} is missing, but the CA beside it is there: it ${purpose}, so the daemon does not make a new one by itself; ${WAY_OUT}`);
  }
  let key: Uint8Array | undefined;
  try {
    const hex = (JSON.parse(text) as Record<string, unknown>)[field];
    if (typeof hex === "string") key = fromHex(hex, field);
  } catch {
    key = undefined;
  }
  if (key?.length !== 32) throw new DaemonError("BAD_KEY_FILE", `${file} is not {"${field}": "<64 hex digits>"}: ${WAY_OUT}`);
  return key;
}

/** The root CA from ca.pem and ca.key, both of which must be there and belong together. */
async function readCa(place: KeyPlace): Promise<CertificateAuthority> {
  const certFile = place.label("ca.pem");
  const keyFile = place.label("ca.key");
  const certText = place.read("ca.pem");
  const keyText = place.read("ca.key");
  if (certText === undefined && keyText === undefined) {
    throw new DaemonError("CA_MISSING", `${certFile} and ${keyFile} are missing, but ${place.label("")} is not empty: ${START_OVER}`);
  }
  if (certText === undefined || keyText === undefined) {
    const [missing, there] = certText === undefined ? [certFile, keyFile] : [keyFile, certFile];
    throw new DaemonError(
      "CA_MISSING",
      `${missing} is missing, but ${there} is there: the daemon makes a new CA only in an empty data directory, as a new CA would orphan every paired device; ${WAY_OUT}`,
    );
  }
  const material = { certDer: pemOf(certFile, certText, "CERTIFICATE"), keyPkcs8Der: pemOf(keyFile, keyText, "PRIVATE KEY") };
  try {
    return await CertificateAuthority.load(material);
  } catch (err) {
    if (!(err instanceof CaError)) throw err;
    if (err.code === "KEY_MISMATCH") {
      throw new DaemonError(
        "CA_MISMATCH",
        `${keyFile} is not the key of the CA certificate in ${certFile}: restore both from the same backup of the data directory (docs/operations.md, "Start-time checks"); nothing was changed`,
        { cause: err },
      );
    }
    const file = err.code === "BAD_PRIVATE_KEY" ? keyFile : certFile;
    throw new DaemonError("BAD_KEY_FILE", `${file} is not ${file === keyFile ? "a P-256 PKCS#8 private key" : "a tether root CA certificate"} (${err.code}): ${WAY_OUT}`, {
      cause: err,
    });
  }
}

type Leaf = { certFile: string; keyFile: string; certDer?: Uint8Array; key?: { pkcs8Der: Uint8Array; spkiDer: Uint8Array } };

/** The server or signer certificate and key as found; either may be absent, neither may be unreadable. */
function readLeaf(place: KeyPlace, name: "server" | "signer"): Leaf {
  const leaf: Leaf = { certFile: place.label(`${name}.pem`), keyFile: place.label(`${name}.key`) };
  const wayOut = "the CA re-issues it when it is absent: delete it and start the daemon again; nothing was changed";
  const certText = place.read(`${name}.pem`);
  if (certText !== undefined) {
    const der = pemOf(leaf.certFile, certText, "CERTIFICATE", wayOut);
    try {
      new X509Certificate(der);
    } catch (cause) {
      throw new DaemonError("BAD_KEY_FILE", `${leaf.certFile} is not an X.509 certificate: ${wayOut}`, { cause });
    }
    leaf.certDer = der;
  }
  const keyText = place.read(`${name}.key`);
  if (keyText !== undefined) {
    const pkcs8Der = pemOf(leaf.keyFile, keyText, "PRIVATE KEY", wayOut);
    try {
      const spki = createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8Der), format: "der", type: "pkcs8" })).export({ format: "der", type: "spki" });
      leaf.key = { pkcs8Der, spkiDer: requireP256Spki(new Uint8Array(spki), name) };
    } catch (cause) {
      throw new DaemonError("BAD_KEY_FILE", `${leaf.keyFile} is not a P-256 PKCS#8 private key: ${wayOut}`, { cause });
    }
  }
  return leaf;
}

/** The CA key, the token key and the seal key, made together in `place` (new: nothing is there yet). */
async function writeNewCa(place: KeyPlace, now: number): Promise<void> {
  const root = await createRootCa({ commonName: "tether root CA", now, randomBytes: random });
  await writePair(place, "ca", root.certDer, root.keyPkcs8Der);
  await place.write("token.key", `${JSON.stringify({ ed25519Seed: nodeRandomBytes(32).toString("hex") })}\n`, 0o600);
  await place.write("seal.key", `${JSON.stringify({ aes256gcmKey: nodeRandomBytes(32).toString("hex") })}\n`, 0o600);
}

/** What the data directory holds already, for `tether ca init` and for the daemon's first start. */
function existingState(dataDir: string): string | undefined {
  if (!isEmptyDir(join(dataDir, "ca"))) return `key material (${join(dataDir, "ca")})`;
  if (!isEmptyDir(join(dataDir, "store"))) return `a store (${join(dataDir, "store")})`;
  return undefined;
}

/** The files `tether ca init` and a first start make. */
const CA_INIT_FILES = ["ca.pem", "ca.key", "token.key", "seal.key"] as const;

/**
 * `tether ca init`: make the root CA, token.key and seal.key in an empty data directory (no ca/
 * or an empty one, no store or an empty one). All four appear at once or not at all.
 * @throws DaemonError ALREADY_INITIALISED when there is anything in ca/ or store/ (nothing is written).
 */
export async function initAuthority(dataDir: string, now: number): Promise<{ caFingerprint: string; notAfter: number; files: string[] }> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const there = existingState(dataDir);
  const refuse = (what: string) =>
    new DaemonError("ALREADY_INITIALISED", `${dataDir} already holds ${what}: tether ca init only fills an empty data directory; nothing was changed`);
  if (there) throw refuse(there);
  const dir = join(dataDir, "ca");
  if (!(await filePlace(dir).create((into) => writeNewCa(into, now)))) throw refuse(`key material (${dir})`);
  const ca = await readCa(filePlace(dir));
  return { caFingerprint: ca.fingerprint, notAfter: ca.notAfter, files: CA_INIT_FILES.map((f) => join(dir, f)) };
}

/** The daemon's long-lived key material, checked; see {@link openKeyFiles}. */
export type KeyFiles = {
  /** where the CA, token, seal and signer keys are (every replica's) */
  shared: KeyPlace;
  /** where this daemon's server certificate and key are (its data directory's ca/) */
  local: KeyPlace;
  ca: CertificateAuthority;
  tokenKey: { publicKey: Uint8Array; secretKey: Secret<Uint8Array> };
  sealKey: Secret<Uint8Array>;
  /** true when this call made the CA (an empty data directory) */
  created: boolean;
};

/**
 * Read and check the key material in `<dataDir>/ca`, writing nothing, before the store is
 * opened: the CA pair (present, PEM, a P-256 root, the key matching), token.key and seal.key,
 * and that the server and signer files, where present, can be read. Only in an empty data
 * directory (nothing in ca/, no store or an empty one) is a new CA made first.
 * @throws DaemonError CA_MISSING, CA_MISMATCH, KEY_MISSING, BAD_KEY_FILE or STORE_WITHOUT_CA,
 *   with a message naming the file and the way out; nothing is written then.
 */
export async function openKeyFiles(dataDir: string, now: number): Promise<KeyFiles> {
  const dir = join(dataDir, "ca");
  const store = join(dataDir, "store");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const place = filePlace(dir);
  return openKeys({ shared: place, local: place, now, stateElsewhere: () => (isEmptyDir(store) ? undefined : `${store} holds the state of paired devices`) });
}

/**
 * {@link openKeyFiles} for any places: the shared keys (CA, token, seal; made when `shared`
 * is empty and `stateElsewhere` finds no state that would be orphaned) and the local server
 * files, read and checked without writing anything else.
 */
export async function openKeys(o: { shared: KeyPlace; local: KeyPlace; now: number; stateElsewhere: () => string | undefined }): Promise<KeyFiles> {
  const { shared, local } = o;
  let created = false;
  if (shared.isEmpty()) {
    const state = o.stateElsewhere();
    if (state) throw new DaemonError("STORE_WITHOUT_CA", `${shared.label("")} has no CA (ca.pem and ca.key are missing), but ${state}: ${START_OVER}`);
    // false: another process (a second daemon, tether ca init) made it just now; read theirs
    created = await shared.create((into) => writeNewCa(into, o.now));
  }
  const ca = await readCa(shared);
  const seed = readHexKey(shared, "token.key", "ed25519Seed", "signs the device tokens that services outside tether verify (tether ca jwks)");
  const sealKey = readHexKey(shared, "seal.key", "aes256gcmKey", "seals the pairing codes kept in the store");
  readLeaf(local, "server");
  readLeaf(shared, "signer");
  // With the keys elsewhere (a database's vault), the CA's certificate, public, also in the data
  // directory: what `tether health --daemon ... --data-dir`, and the other commands that verify
  // the daemon by its data directory, read.
  if (shared !== local && local.read("ca.pem") !== ca.certPem) await local.write("ca.pem", ca.certPem, 0o644);
  const { secretKey, publicKey } = identityFromSeed(seed);
  return { shared, local, ca, tokenKey: { publicKey, secretKey: new Secret(secretKey, "TokenKey") }, sealKey: new Secret(sealKey, "SealKey"), created };
}

const random = (n: number) => new Uint8Array(nodeRandomBytes(n));

async function writePair(place: KeyPlace, name: string, certDer: Uint8Array, keyPkcs8Der: Uint8Array): Promise<void> {
  // Key first: a crash in between leaves a key without its certificate, which is then issued for it.
  await place.write(`${name}.key`, derToPem(keyPkcs8Der, "PRIVATE KEY"), 0o600);
  await place.write(`${name}.pem`, derToPem(certDer, "CERTIFICATE"), 0o644);
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
function hostsChanged(place: KeyPlace, hosts: string[]): boolean {
  return place.read("server.hosts") !== JSON.stringify(hosts);
}

type Pair = { certDer: Uint8Array; keyPkcs8Der: Uint8Array };

/** Why a certificate on disk cannot serve its key under this CA, or undefined when it can. */
async function leafProblem(certDer: Uint8Array, keySpkiDer: Uint8Array, ca: CertificateAuthority, now: number): Promise<string | undefined> {
  if (!Buffer.from(certSpkiDer(certDer)).equals(keySpkiDer)) return "it is not the certificate of the key beside it";
  try {
    await verifyIssuedBy(certDer, ca.certDer, now);
    return undefined;
  } catch (err) {
    if (err instanceof CaError) return `it does not verify under ca.pem (${err.code})`;
    throw err;
  }
}

/** Called when a start re-issues a certificate that was missing or wrong (the daemon logs it). */
export type OnReissue = (file: string, reason: string) => void;

/**
 * The server or signer pair, issued anew when needed: a missing or wrong certificate (not for
 * the key beside it, not issued by this CA) is re-issued for the key on disk, which is kept; a
 * certificate that is `due` (or every one, with `force`), or a missing key, gets a new key.
 */
async function ensureLeaf(
  place: KeyPlace,
  name: "server" | "signer",
  issue: (spkiDer: Uint8Array) => Promise<Uint8Array>,
  o: { ca: CertificateAuthority; now: number; due: (certDer: Uint8Array) => boolean; force: boolean; onReissue: OnReissue },
): Promise<{ pair: Pair; fresh: boolean }> {
  const leaf = readLeaf(place, name);
  if (leaf.key && !o.force) {
    const problem = leaf.certDer ? await leafProblem(leaf.certDer, leaf.key.spkiDer, o.ca, o.now) : "it is missing";
    if (problem === undefined && leaf.certDer && !o.due(leaf.certDer)) return { pair: { certDer: leaf.certDer, keyPkcs8Der: leaf.key.pkcs8Der }, fresh: false };
    if (problem !== undefined) {
      const certDer = await issue(leaf.key.spkiDer);
      await place.write(`${name}.pem`, derToPem(certDer, "CERTIFICATE"), 0o644);
      o.onReissue(leaf.certFile, problem);
      return { pair: { certDer, keyPkcs8Der: leaf.key.pkcs8Der }, fresh: true };
    }
  }
  const kp = await generateP256KeyPair();
  const pair = { certDer: await issue(kp.publicKeySpkiDer), keyPkcs8Der: kp.privateKeyPkcs8Der };
  await writePair(place, name, pair.certDer, pair.keyPkcs8Der);
  if (!leaf.key && leaf.certDer) o.onReissue(leaf.certFile, `its key ${leaf.keyFile} is missing, so it was issued for a new one`);
  return { pair, fresh: true };
}

type LeafOptions = { ca: CertificateAuthority; now: number; force?: boolean; onReissue: OnReissue };

async function ensureServer(place: KeyPlace, hosts: string[], o: LeafOptions): Promise<{ pair: Pair; fresh: boolean }> {
  const issue = (publicKeySpkiDer: Uint8Array) => o.ca.issueServerCert({ publicKeySpkiDer, hosts, now: o.now, randomBytes: random });
  const r = await ensureLeaf(place, "server", issue, { ...o, force: o.force ?? false, due: (c) => nearExpiry(c, o.now) || hostsChanged(place, hosts) });
  // after the certificate: a crash in between leaves an old list, so the next start issues again
  if (r.fresh) await place.write("server.hosts", JSON.stringify(hosts), 0o644);
  return r;
}

function ensureSigner(place: KeyPlace, o: LeafOptions): Promise<{ pair: Pair; fresh: boolean }> {
  const issue = (publicKeySpkiDer: Uint8Array) => o.ca.issueSignerCert({ publicKeySpkiDer, now: o.now, randomBytes: random });
  return ensureLeaf(place, "signer", issue, { ...o, force: o.force ?? false, due: (c) => nearExpiry(c, o.now) });
}

/**
 * A replica's TLS identity (replica.ts): its server certificate for its listener (re-issued as
 * loadAuthority does; written only to its own data directory), without the signer, which is
 * the active daemon's to renew.
 */
export async function loadServerIdentity(keys: KeyFiles, o: { hosts: string[]; now: number; onReissue?: OnReissue }): Promise<{ certPem: string; keyPem: Secret<string> }> {
  const server = (await ensureServer(keys.local, o.hosts, { ca: keys.ca, now: o.now, onReissue: o.onReissue ?? (() => undefined) })).pair;
  return { certPem: derToPem(server.certDer, "CERTIFICATE"), keyPem: new Secret(derToPem(server.keyPkcs8Der, "PRIVATE KEY"), "ServerKey") };
}

/** {@link openKeyFiles}, then {@link loadAuthority}: for tests that need an authority without a daemon. */
export async function loadOrCreateAuthority(o: { dataDir: string; hosts: string[]; now: number; nodeCertLifetimeMs?: number }): Promise<LoadedAuthority> {
  return loadAuthority(await openKeyFiles(o.dataDir, o.now), o);
}

/**
 * The authority the daemon runs with, from checked key files (call with the store's lock held:
 * this may write the server and signer files). Their certificates are re-issued when missing,
 * wrong (`onReissue` is told), near expiry, or when the host list changed.
 */
export async function loadAuthority(keys: KeyFiles, o: { hosts: string[]; now: number; nodeCertLifetimeMs?: number; onReissue?: OnReissue }): Promise<LoadedAuthority> {
  const { shared, local, ca } = keys;
  const onReissue = o.onReissue ?? (() => undefined);
  const server = (await ensureServer(local, o.hosts, { ca, now: o.now, onReissue })).pair;
  const signer = (await ensureSigner(shared, { ca, now: o.now, onReissue })).pair;
  const { tokenKey, sealKey } = keys;
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
      const sv = await ensureServer(local, o.hosts, { ca, now, force, onReissue });
      const sg = await ensureSigner(shared, { ca, now, force, onReissue });
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
