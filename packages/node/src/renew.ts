/**
 * Certificate renewal, shared by connect() (over its stream's channel, on a timer) and by
 * renewIfDue() (for devices that only make calls, such as an orchestrator driven by the CLI,
 * which renew when they are used). A renewal is a signed request over mutual TLS with the
 * current certificate; the answer is checked (issued by our CA, for our key) and stored
 * crash-safely before it is used.
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import { existsSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { Metadata, status } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { createFileExclusive } from "@tether/base";
import { CLOCK_SKEW_BACKDATE_MS } from "@tether/ca";
import { KeyProofPurpose, identitySign, keyProofMessage, renewSignedMessage } from "@tether/crypto";
import type { RenewRequest, RenewResponse } from "@tether/wire";
import { DEVICE_CHANNEL_OPTIONS, deviceCredentials, fromStatus, serviceClient } from "./client.js";
import { NodeError } from "./errors.js";
import { refusedForGood } from "./refusal.js";
import { loadCredentials, loadOrCreateIdentity, saveRenewal } from "./state.js";

/** Renew once this fraction of the certificate's lifetime has passed. */
export const RENEW_AT = 0.5;
/** A renewal lock older than this is a crashed process's, and is taken over. */
const LOCK_STALE_MS = 60_000;

export type Renewed = { certPem: string; keyPem?: string; notAfter: number; fingerprint: string };
export type RenewCall = (req: RenewRequest) => Promise<RenewResponse>;

/** A fresh P-256 TLS key, as PKCS#8 PEM. */
export function newTlsKey(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return privateKey.export({ type: "pkcs8", format: "pem" }) as string;
}

/**
 * The request Renew and IssuePeerCertificate take (`purpose` says which): the public key of
 * `keyPem`, signed by the identity key, and signed by `keyPem` itself to prove we hold it.
 */
export function signedKeyRequest(stateDir: string, deviceId: string, purpose: KeyProofPurpose, keyPem: string): RenewRequest {
  const identity = loadOrCreateIdentity(stateDir);
  const key = createPrivateKey(keyPem);
  const spki = new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
  const timestamp = Date.now();
  return {
    tlsPublicKey: spki,
    timestamp,
    signature: identitySign(identity.secretKey.expose(), renewSignedMessage(deviceId, spki, timestamp)),
    keyProof: new Uint8Array(sign("sha256", keyProofMessage(purpose, deviceId, spki, timestamp), { key, dsaEncoding: "der" })),
  };
}

/**
 * Whether a certificate is past the point where it should be renewed: more than RENEW_AT of
 * its lifetime gone (the lifetime counted from issue, not from the backdated notBefore).
 */
export function renewalDue(certPem: string, now = Date.now()): boolean {
  const cert = new X509Certificate(certPem);
  const notAfter = Date.parse(cert.validTo);
  const issued = Math.min(notAfter, Date.parse(cert.validFrom) + CLOCK_SKEW_BACKDATE_MS);
  return now >= issued + (notAfter - issued) * RENEW_AT;
}

/**
 * Renew through `call` (a Renew on a channel with the current certificate), with a new TLS key
 * by default, check the answer and store it.
 * @throws NodeError BAD_CERTIFICATE when the answer is not our CA's certificate for our key;
 *   the daemon's refusals as NodeErrors.
 */
export async function renewOver(
  call: RenewCall,
  o: { stateDir: string; deviceId: string; caPem: string; currentKeyPem: string; rekey?: boolean },
): Promise<Renewed> {
  const keyPem = o.rekey !== false ? newTlsKey() : undefined;
  const req = signedKeyRequest(o.stateDir, o.deviceId, KeyProofPurpose.Renew, keyPem ?? o.currentKeyPem);
  const spki = req.tlsPublicKey;
  const res = await call(req);
  const cert = new X509Certificate(res.certificate);
  const ca = new X509Certificate(o.caPem);
  const certSpki = new Uint8Array(cert.publicKey.export({ type: "spki", format: "der" }));
  if (!cert.verify(ca.publicKey) || Buffer.compare(Buffer.from(certSpki), Buffer.from(spki)) !== 0) {
    throw new NodeError("BAD_CERTIFICATE", "renewed certificate is not a certificate of our CA for our key");
  }
  const certPem = cert.toString();
  saveRenewal(o.stateDir, certPem, keyPem, res.notAfter);
  return { certPem, ...(keyPem ? { keyPem } : {}), notAfter: res.notAfter, fingerprint: cert.fingerprint256.replace(/:/g, "").toLowerCase() };
}

type NodeRenewClient = Client & {
  Renew(req: object, md: Metadata, opts: object, cb: (e: ServiceError | null, r: { certificate: Uint8Array; notAfter: number }) => void): void;
};

/** A refused Renew: one that retrying cannot mend is explained (refusal.ts), others as the daemon said them. */
function renewRefusal(e: ServiceError, creds: { certPem: string; state: { deviceId: string } }): NodeError {
  if (e.code === status.UNAUTHENTICATED || e.code === status.PERMISSION_DENIED) {
    return refusedForGood({ code: e.code, details: e.details ?? "", deviceId: creds.state.deviceId, certPem: creds.certPem });
  }
  return fromStatus(e);
}

/**
 * Renew the certificate in `stateDir` if it is due (or with `force`), over a short-lived
 * channel. For devices that do not keep a stream open: call it before using the certificate
 * (the CLI does, for `dispatch --state-dir`), or from a timer. Another process renewing the
 * same state directory at the same moment makes this a no-op (the current certificate is
 * still valid when a renewal is merely due).
 * @returns the renewal, or undefined when none was due or another process holds the lock.
 * @throws NodeError as renewOver; the daemon refuses an expired certificate (pair again).
 */
export async function renewIfDue(stateDir: string, o: { daemon?: string; force?: boolean; rekey?: boolean } = {}): Promise<Renewed | undefined> {
  const creds = loadCredentials(stateDir);
  if (!o.force && !renewalDue(creds.certPem)) return undefined;
  const lock = join(stateDir, "renew.lock");
  if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
  try {
    createFileExclusive(lock, `${process.pid}\n`, 0o600);
  } catch {
    return undefined; // another process is renewing right now
  }
  const Ctor = serviceClient<NodeRenewClient>("Node");
  const client = new Ctor(o.daemon ?? creds.state.daemon, deviceCredentials(creds), DEVICE_CHANNEL_OPTIONS);
  try {
    return await renewOver(
      (req) =>
        new Promise((resolve, reject) =>
          client.Renew(req, new Metadata(), { deadline: Date.now() + 30_000 }, (e, r) => (e ? reject(renewRefusal(e, creds)) : resolve(r))),
        ),
      { stateDir, deviceId: creds.state.deviceId, caPem: creds.caPem, currentKeyPem: creds.keyPem.expose(), ...(o.rekey === false ? { rekey: false } : {}) },
    );
  } finally {
    client.close();
    unlinkSync(lock);
  }
}
