/**
 * pair(): what a node does with a PIN or a scanned QR code. It runs the handshake of
 * docs/protocol.md (Start with a commitment, Reveal, Finish), checks the daemon's key
 * confirmation, CA pin, signer certificate and signature, hands the verification code to a
 * callback, waits for the admin's decision with signed Await calls over TLS verified against
 * the CA it just learned, checks the certificate and stores it.
 */
import { X509Certificate, randomBytes, verify as verifySignature } from "node:crypto";
import { Metadata } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import {
  CryptoError,
  PAIRING_SIGNER_COMMON_NAME,
  PAIR_PROTOCOL_VERSION,
  SID_BYTES,
  awaitSignedMessage,
  checkName,
  checkRole,
  confirmationMatches,
  daemonSignedMessage,
  derivePrs,
  deviceIdFromIdentityKey,
  fingerprintBytes,
  identitySign,
  nodeComplete,
  nodeShare,
  nodeSignedMessage,
  parsePairingUri,
  parsePin,
  sha256Hex,
  shareCommitment,
  toHex,
} from "@tether/crypto";
import type { PairMethod, Role, SessionKeys } from "@tether/crypto";
import type { AwaitResponse, FinishResponse, RevealResponse, StartResponse } from "@tether/wire";
import type { PairingClient } from "./client.js";
import { fromStatus, pairingClient, printable, unaryCall } from "./client.js";
import { NodeError } from "./errors.js";
import type { PairedState } from "./state.js";
import { loadOrCreateIdentity, loadOrCreateTlsKey, savePairedState } from "./state.js";

export type PairOptions = {
  /** HOST:PORT of the daemon; optional with a URI, which carries it */
  daemon?: string;
  pin?: string;
  uri?: string;
  name: string;
  role?: Role;
  stateDir: string;
  /** Called once the handshake is done, with the code the admin should see in `tether pair list`. */
  onVerificationCode?: (code: string, info: { requestId: string; deviceId: string; expiresAt: number }) => void;
  /** Stop waiting for the decision. */
  signal?: AbortSignal;
  now?: () => number;
};

export type PairResult = PairedState & { requestId: string; verificationCode: string; certificatePem: string; caPem: string };

type Code = { method: PairMethod; selector: string; secret: Uint8Array | string; address: string; caFingerprint?: string };

/** Wait this long past a request's expiry for the daemon to say so before giving up. */
const EXPIRY_GRACE_MS = 60_000;

function resolveCode(o: PairOptions, now: number): Code {
  if ((o.pin === undefined) === (o.uri === undefined)) throw new NodeError("BAD_INPUT", "give exactly one of a PIN or a pairing URI");
  try {
    if (o.pin !== undefined) {
      if (!o.daemon) throw new NodeError("BAD_INPUT", "a PIN needs the daemon's address (--daemon HOST:PORT)");
      const { selector, secret } = parsePin(o.pin);
      return { method: "pin", selector, secret, address: o.daemon };
    }
    const u = parsePairingUri(o.uri as string);
    if (u.expiresAt <= now) throw new NodeError("CODE_EXPIRED", `pairing code expired at ${new Date(u.expiresAt).toISOString()}`);
    return { method: "qr", selector: u.selector, secret: u.secret, address: o.daemon ?? u.address, caFingerprint: u.caFingerprint };
  } catch (err) {
    if (err instanceof CryptoError) throw new NodeError("BAD_INPUT", err.message, { cause: err });
    throw err;
  }
}

function parseCert(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (cause) {
    throw new NodeError("BAD_CERTIFICATE", `daemon sent an unparsable ${what}`, { cause });
  }
}

function spkiOf(cert: X509Certificate): Uint8Array {
  return new Uint8Array(cert.publicKey.export({ type: "spki", format: "der" }));
}

function validAt(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now < Date.parse(cert.validTo);
}

/**
 * The signer must be the daemon's pairing signer, not just any certificate of its CA (a
 * paired node's client certificate is one too): CN, not a CA, no extended key usage, issued
 * by the CA and valid now.
 */
function checkSigner(signer: X509Certificate, ca: X509Certificate, now: number): void {
  const ok =
    ca.ca &&
    signer.checkIssued(ca) &&
    signer.verify(ca.publicKey) &&
    !signer.ca &&
    signer.keyUsage === undefined &&
    signer.subject.split("\n").includes(`CN=${PAIRING_SIGNER_COMMON_NAME}`);
  if (!ok) throw new NodeError("BAD_CERTIFICATE", "the daemon's signer certificate is not its CA's pairing signer");
  for (const c of [ca, signer]) {
    if (!validAt(c, now)) {
      const from = Date.parse(c.validFrom);
      const when = now < from ? `is not valid until ${new Date(from).toISOString()}` : `expired at ${c.validTo}`;
      throw new NodeError(
        "BAD_CERTIFICATE",
        `the daemon's ${c === ca ? "CA" : "signer"} certificate ${when}, and it is ${new Date(now).toISOString()} on this machine: ` +
          "this machine's clock and the daemon's differ by more than tether tolerates (5 minutes); fix them (NTP) and pair again",
      );
    }
  }
}

/** Pair this node with a daemon. Resolves once the admin approved and the certificate is stored. */
export async function pair(o: PairOptions): Promise<PairResult> {
  const now = o.now ?? Date.now;
  const code = resolveCode(o, now());
  let name: string;
  let role: Role;
  try {
    name = checkName(o.name);
    role = checkRole(o.role ?? "node");
  } catch (err) {
    throw new NodeError("BAD_INPUT", (err as Error).message, { cause: err });
  }
  const identity = loadOrCreateIdentity(o.stateDir);
  const tls = loadOrCreateTlsKey(o.stateDir);
  const claims = { identityKey: identity.publicKey, tlsPublicKey: tls.spkiDer, name, role };
  const prs = derivePrs(code.method, code.selector, code.secret);
  const sid = new Uint8Array(randomBytes(SID_BYTES));
  const scalar = new Uint8Array(randomBytes(32));
  const client = pairingClient(code.address);
  let verified: PairingClient | undefined;
  try {
    const ya = nodeShare(prs, code.method, code.selector, sid, scalar);
    const start = await unaryCall<StartResponse>(client.Start.bind(client), {
      version: PAIR_PROTOCOL_VERSION,
      method: code.method,
      selector: code.selector,
      sid,
      commitment: shareCommitment(sid, ya),
      identityKey: identity.publicKey,
      tlsPublicKey: tls.spkiDer,
      name,
      role,
    });

    // The daemon's CA, as it claims it; everything below authenticates that claim.
    const caCert = parseCert(start.caCertificate, "CA certificate");
    const signerCert = parseCert(start.signerCertificate, "signer certificate");
    const caFingerprint = sha256Hex(spkiOf(caCert));
    let keys: SessionKeys;
    try {
      keys = nodeComplete(
        {
          method: code.method,
          selector: code.selector,
          sid,
          ya,
          yb: start.yb,
          claims,
          caCertDer: start.caCertificate,
          caFingerprint: fingerprintBytes(caFingerprint),
          signerCertDer: start.signerCertificate,
        },
        scalar,
      );
    } catch (cause) {
      throw new NodeError("WRONG_CODE", `daemon sent an invalid handshake share: ${(cause as Error).message}`, { cause });
    } finally {
      scalar.fill(0);
    }
    const reveal = await unaryCall<RevealResponse>(client.Reveal.bind(client), { sessionId: start.sessionId, ya });
    // Key confirmation first: it proves the daemon knows the code.
    if (!confirmationMatches(keys.daemonConfirmation, reveal.daemonConfirmation)) {
      throw new NodeError("WRONG_CODE", "the daemon could not prove it knows this pairing code: the code is wrong, or someone is in the middle");
    }
    if (code.caFingerprint && code.caFingerprint !== caFingerprint) {
      throw new NodeError("CA_PIN_MISMATCH", `the daemon's CA fingerprint ${caFingerprint} does not match the one in the QR code`);
    }
    checkSigner(signerCert, caCert, now());
    if (!verifySignature("sha256", daemonSignedMessage(keys.th), signerCert.publicKey, reveal.daemonSignature)) {
      throw new NodeError("BAD_DAEMON_SIGNATURE", "the daemon's signature over the handshake transcript does not verify");
    }
    const fin = await unaryCall<FinishResponse>(client.Finish.bind(client), {
      sessionId: start.sessionId,
      nodeConfirmation: keys.nodeConfirmation,
      nodeSignature: identitySign(identity.secretKey.expose(), nodeSignedMessage(keys.th)),
    });
    const deviceId = deviceIdFromIdentityKey(identity.publicKey);
    if (fin.deviceId !== deviceId) throw new NodeError("BAD_CERTIFICATE", "daemon derived a different device id");
    o.onVerificationCode?.(keys.verificationCode, { requestId: fin.requestId, deviceId, expiresAt: fin.expiresAt });

    // From here on, talk only to the daemon whose CA we just authenticated.
    const caPem = caCert.toString();
    verified = pairingClient(code.address, caPem);
    const decision = await awaitDecision(verified, fin.requestId, fin.expiresAt, identity.secretKey.expose(), now, o.signal);
    if (decision.state === "rejected") {
      const why = decision.reason ? `: ${printable(decision.reason)}` : "";
      throw new NodeError("REJECTED", `the admin rejected pairing request ${fin.requestId}${why}. Nothing was paired; to try again, ask the admin for a new code`);
    }
    if (decision.state === "expired") {
      throw new NodeError(
        "EXPIRED",
        `pairing request ${fin.requestId} expired before an admin approved it. Nothing was paired; run this again with a new code (\`tether pair code\`)`,
      );
    }
    if (decision.state !== "approved") throw new NodeError("DAEMON_REFUSED", `unexpected request state ${printable(decision.state)}`);

    // The certificate must come from the CA we authenticated and carry our key and id.
    const cert = parseCert(decision.certificate, "certificate");
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey) || cert.ca || !validAt(cert, now())) {
      throw new NodeError("BAD_CERTIFICATE", "issued certificate is not a valid leaf of the daemon's CA");
    }
    if (toHex(spkiOf(cert)) !== toHex(tls.spkiDer)) throw new NodeError("BAD_CERTIFICATE", "issued certificate is not for this node's TLS key");
    if (!(cert.subjectAltName ?? "").split(", ").includes(`URI:urn:tether:device:${deviceId}`)) {
      throw new NodeError("BAD_CERTIFICATE", "issued certificate does not name this device");
    }
    const grantedRole = checkRole(decision.role);
    const state: PairedState = {
      version: 1,
      daemon: code.address,
      deviceId,
      name,
      role: grantedRole,
      caFingerprint,
      pairedAt: now(),
      certificateNotAfter: Date.parse(cert.validTo),
    };
    const certificatePem = cert.toString();
    savePairedState(o.stateDir, certificatePem, caPem, state);
    return { ...state, requestId: fin.requestId, verificationCode: keys.verificationCode, certificatePem, caPem };
  } catch (err) {
    // Only the handshake's calls end here unreachable (the wait for a decision retries).
    if (err instanceof NodeError && err.code === "UNREACHABLE") {
      throw new NodeError(
        "UNREACHABLE",
        `${err.message.replace(/^cannot reach the daemon/, `cannot reach the daemon at ${code.address}`)}. Nothing was paired. ` +
          "Check that `tether daemon` is running there and that this is the address it advertises (`tether pair code` prints the command with it), then run this again",
        { cause: err, ...(err.status ? { status: err.status } : {}) },
      );
    }
    throw err;
  } finally {
    client.close();
    verified?.close();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Hold a signed Await stream until the decision arrives; reconnect with backoff if the stream
 * drops; give up (EXPIRED) once the request's expiry has clearly passed.
 */
export async function awaitDecision(
  client: PairingClient,
  requestId: string,
  expiresAt: number,
  secretKey: Uint8Array,
  now: () => number,
  signal?: AbortSignal,
): Promise<AwaitResponse> {
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw new NodeError("EXPIRED", "stopped waiting for the admin's decision");
    if (now() > expiresAt + EXPIRY_GRACE_MS) {
      throw new NodeError("EXPIRED", `pairing request ${requestId} expired before an admin approved it (daemon unreachable)`);
    }
    const timestamp = now();
    const req = { requestId, timestamp, signature: identitySign(secretKey, awaitSignedMessage(requestId, timestamp)) };
    const result = await new Promise<AwaitResponse | { retry: true } | NodeError>((resolve) => {
      const call = client.Await(req, new Metadata(), {});
      let last: AwaitResponse | undefined;
      const onAbort = () => call.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      call.on("data", (m: AwaitResponse) => {
        last = m;
      });
      call.on("error", (err: ServiceError) => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) return resolve(new NodeError("EXPIRED", "stopped waiting for the admin's decision"));
        const e = fromStatus(err);
        resolve(e.code === "UNREACHABLE" ? { retry: true } : e);
      });
      call.on("end", () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(last && last.state !== "pending" ? last : { retry: true });
      });
    });
    if (result instanceof NodeError) throw result;
    if (!("retry" in result)) return result;
    await sleep(Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2), signal);
  }
}
