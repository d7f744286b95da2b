/**
 * Certificate renewal, shared by connect() (over its stream's channel, on a timer) and by
 * renewIfDue() (for devices that only make calls, such as an orchestrator driven by the CLI,
 * which renew when they are used, or when the daemon's answer to a call asks them to). A
 * renewal is a signed request over mutual TLS with the current certificate; the answer is
 * checked (issued by our CA, for our key) and stored crash-safely before it is used. One
 * process at a time renews a state directory (its renewal lock).
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import { Metadata, status } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { CLOCK_SKEW_BACKDATE_MS } from "@tether/ca";
import { KeyProofPurpose, identitySign, keyProofMessage, renewSignedMessage } from "@tether/crypto";
import type { RenewRequestInit, RenewResponse } from "@tether/wire";
import { DEVICE_CHANNEL_OPTIONS, deviceCredentials, fromStatus, renewHintInterceptor, serviceClient } from "./client.js";
import { NodeError } from "./errors.js";
import { refusedForGood } from "./refusal.js";
import { loadCredentials, loadOrCreateIdentity, saveRenewal, tryStateLock } from "./state.js";

/** Renew once this fraction of the certificate's lifetime has passed. */
export const RENEW_AT = 0.5;

export type Renewed = { deviceId: string; certPem: string; keyPem?: string; notAfter: number; fingerprint: string };
/** Why renewIfDue renewed: asked to (`force`), past RENEW_AT of the lifetime, or an admin's rotation (fleet.md §5A.4). */
export type RenewReason = "forced" | "due" | "rotation";
export type RenewCall = (req: RenewRequestInit) => Promise<RenewResponse>;

/** A fresh P-256 TLS key, as PKCS#8 PEM. */
export function newTlsKey(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return privateKey.export({ type: "pkcs8", format: "pem" }) as string;
}

/**
 * The request Renew and IssuePeerCertificate take (`purpose` says which): the public key of
 * `keyPem`, signed by the identity key, and signed by `keyPem` itself to prove we hold it.
 */
export function signedKeyRequest(stateDir: string, deviceId: string, purpose: KeyProofPurpose, keyPem: string): RenewRequestInit {
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
 * by default, check the answer and store it, holding the state directory's renewal lock.
 * @throws NodeError BUSY while another process renews the same state directory;
 *   BAD_CERTIFICATE when the answer is not our CA's certificate for our key; the daemon's
 *   refusals as NodeErrors.
 */
export async function renewOver(call: RenewCall, o: { stateDir: string; deviceId: string; caPem: string; currentKeyPem: string; rekey?: boolean }): Promise<Renewed> {
  const unlock = tryStateLock(o.stateDir);
  if (!unlock) throw new NodeError("BUSY", `another process is renewing the certificate in ${o.stateDir}`);
  try {
    return await renewLocked(call, o);
  } finally {
    unlock();
  }
}

async function renewLocked(call: RenewCall, o: { stateDir: string; deviceId: string; caPem: string; currentKeyPem: string; rekey?: boolean }): Promise<Renewed> {
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
  saveRenewal(o.stateDir, certPem, keyPem ?? o.currentKeyPem, res.notAfter);
  return { deviceId: o.deviceId, certPem, ...(keyPem ? { keyPem } : {}), notAfter: res.notAfter, fingerprint: cert.fingerprint256.replace(/:/g, "").toLowerCase() };
}

type Unary = (req: object, md: Metadata, opts: object, cb: (e: ServiceError | null, r: never) => void) => void;
type NodeRenewClient = Client & { Renew: Unary; GetJwks: Unary };

function unary<R>(client: NodeRenewClient, method: "Renew" | "GetJwks", req: object, refusal: (e: ServiceError) => NodeError = fromStatus): Promise<R> {
  return new Promise((resolve, reject) =>
    (client[method] as Unary).call(client, req, new Metadata(), { deadline: Date.now() + 30_000 }, (e, r) => (e ? reject(refusal(e)) : resolve(r as R))),
  );
}

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
 * (the CLI does, for `dispatch --state-dir`), or from a timer. With `checkRotation`, a
 * certificate that is not due yet is renewed all the same when the daemon's answer to a cheap
 * call (GetJwks) carries `tether-renew-now`: an admin asked for a rotation (docs/fleet.md §5A.4).
 * @returns the renewal and why it happened, or undefined when none was due.
 * @throws NodeError BUSY while another process renews the same state directory; as renewOver;
 *   the daemon refuses an expired certificate (pair again).
 */
export async function renewIfDue(
  stateDir: string,
  o: { daemon?: string; force?: boolean; rekey?: boolean; checkRotation?: boolean } = {},
): Promise<(Renewed & { reason: RenewReason }) | undefined> {
  const creds = loadCredentials(stateDir);
  const due = renewalDue(creds.certPem);
  if (!o.force && !due && !o.checkRotation) return undefined;
  let hinted = false;
  const Ctor = serviceClient<NodeRenewClient>("Node");
  const client = new Ctor(o.daemon ?? creds.state.daemon, deviceCredentials(creds), {
    ...DEVICE_CHANNEL_OPTIONS,
    interceptors: [
      renewHintInterceptor(
        () => 0,
        () => (hinted = true),
      ),
    ],
  });
  try {
    let reason: RenewReason = o.force ? "forced" : "due";
    if (!o.force && !due) {
      await unary(client, "GetJwks", {}, (e) => renewRefusal(e, creds));
      if (!hinted) return undefined;
      reason = "rotation";
    }
    const r = await renewOver((req) => unary<RenewResponse>(client, "Renew", req, (e) => renewRefusal(e, creds)), {
      stateDir,
      deviceId: creds.state.deviceId,
      caPem: creds.caPem,
      currentKeyPem: creds.keyPem.expose(),
      ...(o.rekey === false ? { rekey: false } : {}),
    });
    return { ...r, reason };
  } finally {
    client.close();
  }
}
