/**
 * Coming back after the certificate expired (docs/fleet.md §5A.5): an expired certificate
 * cannot renew itself, so the device proves its identity key instead, in a signed Pairing.Return
 * over TLS verified against its CA (no client certificate), for a certificate on a new TLS key.
 * Within the daemon's return grace the answer is the certificate; otherwise the return waits for
 * an admin, like a pairing request, and this waits with it (its verification code told through
 * `onVerificationCode`). The new key and certificate are stored as a renewal's are.
 */
import { X509Certificate, createPrivateKey, createPublicKey, sign } from "node:crypto";
import { KeyProofPurpose, identitySign, keyProofMessage, returnSignedMessage } from "@tether/crypto";
import type { ReturnResponse } from "@tether/wire";
import { pairingClient, unaryCall } from "./client.js";
import type { PairingClient } from "./client.js";
import { NodeError } from "./errors.js";
import { awaitDecision } from "./pair.js";
import { newTlsKey } from "./renew.js";
import { loadCredentials, loadOrCreateIdentity, saveRenewal, tryStateLock } from "./state.js";

export type Returned = { deviceId: string; certPem: string; notAfter: number; fingerprint: string; approvedBy: "grace" | "admin" };

export type ReturnOptions = {
  /** the daemon's address (default: the one stored at pairing) */
  daemon?: string;
  /** told when the return waits for an admin: the code to show, which the admin compares */
  onVerificationCode?: (code: string, info: { requestId: string; expiresAt: number }) => void;
  signal?: AbortSignal;
};

/** Whether the certificate in `certPem` has expired (at `now`). */
export function certificateExpired(certPem: string, now = Date.now()): boolean {
  return Date.parse(new X509Certificate(certPem).validTo) <= now;
}

/**
 * Return to the daemon with the identity key in `stateDir`, holding its renewal lock.
 * @throws NodeError BUSY (another process renews it), REVOKED, EXPIRED (the admin did not decide in
 *   time), REJECTED, BAD_CERTIFICATE (the answer is not our CA's certificate for our key), the
 *   daemon's other refusals.
 */
export async function returnDevice(stateDir: string, o: ReturnOptions = {}): Promise<Returned> {
  const unlock = tryStateLock(stateDir);
  if (!unlock) throw new NodeError("BUSY", `another process is renewing the certificate in ${stateDir}`);
  const creds = loadCredentials(stateDir);
  const client: PairingClient & { Return?: unknown } = pairingClient(o.daemon ?? creds.state.daemon, creds.caPem);
  try {
    const deviceId = creds.state.deviceId;
    const identity = loadOrCreateIdentity(stateDir);
    const keyPem = newTlsKey();
    const key = createPrivateKey(keyPem);
    const spki = new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
    const timestamp = Date.now();
    const req = {
      deviceId,
      tlsPublicKey: spki,
      timestamp,
      signature: identitySign(identity.secretKey.expose(), returnSignedMessage(deviceId, spki, timestamp)),
      keyProof: new Uint8Array(sign("sha256", keyProofMessage(KeyProofPurpose.Return, deviceId, spki, timestamp), { key, dsaEncoding: "der" })),
    };
    const fn = (client as unknown as Record<string, Parameters<typeof unaryCall>[0]>).Return as Parameters<typeof unaryCall>[0];
    const res = await unaryCall<ReturnResponse>(fn.bind(client), req);
    let der: Uint8Array;
    let notAfter: number;
    let approvedBy: Returned["approvedBy"] = "grace";
    if (res.state === "approved") {
      der = res.certificate;
      notAfter = Number(res.notAfter);
    } else {
      o.onVerificationCode?.(res.verificationCode, { requestId: res.requestId, expiresAt: Number(res.expiresAt) });
      const decided = await awaitDecision(client, res.requestId, Number(res.expiresAt), identity.secretKey.expose(), Date.now, o.signal);
      if (decided.state === "rejected") throw new NodeError("REJECTED", `the admin rejected the return of ${deviceId}${decided.reason ? `: ${decided.reason}` : ""}`);
      if (decided.state !== "approved") throw new NodeError("EXPIRED", `the return request ${res.requestId} ${decided.state} before an admin approved it`);
      der = decided.certificate;
      notAfter = Date.parse(new X509Certificate(decided.certificate).validTo);
      approvedBy = "admin";
    }
    const cert = new X509Certificate(der);
    const certSpki = new Uint8Array(cert.publicKey.export({ type: "spki", format: "der" }));
    if (!cert.verify(new X509Certificate(creds.caPem).publicKey) || Buffer.compare(Buffer.from(certSpki), Buffer.from(spki)) !== 0) {
      throw new NodeError("BAD_CERTIFICATE", "the returned certificate is not a certificate of our CA for our key");
    }
    const certPem = cert.toString();
    saveRenewal(stateDir, certPem, keyPem, notAfter);
    return { deviceId, certPem, notAfter, fingerprint: cert.fingerprint256.replace(/:/g, "").toLowerCase(), approvedBy };
  } finally {
    client.close();
    unlock();
  }
}
