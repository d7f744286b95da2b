/**
 * Revocation for the outside world: the CA's signed CRL, regenerated whenever a device is
 * revoked (and daily, before nextUpdate), and the online Verify answer.
 */
import { X509Certificate } from "node:crypto";
import { deviceIdFromSubjectAltName, serialKey } from "@tether/ca";
import type { CertificateAuthority } from "@tether/ca";
import type { DeviceRecord } from "@tether/pairing";
import { verifyToken } from "@tether/crypto";
import type { Jwks } from "@tether/crypto";
import type { DeviceIndex } from "./auth.js";

export const CRL_VALIDITY_MS = 7 * 24 * 60 * 60_000;
export const CRL_REFRESH_MS = 24 * 60 * 60_000;

export type VerifyStatus = "valid" | "revoked" | "expired" | "unknown";
export type SignedCrl = { der: Uint8Array; thisUpdate: number; nextUpdate: number };

/** A signed CRL as the wire's `Crl` message (node.proto, admin.proto). */
export function wireCrl(c: SignedCrl): { crl: Uint8Array; thisUpdate: number; nextUpdate: number } {
  return { crl: c.der, thisUpdate: c.thisUpdate, nextUpdate: c.nextUpdate };
}

export class Revocations {
  readonly #ca: CertificateAuthority;
  readonly #caCert: X509Certificate;
  readonly #now: () => number;
  readonly #index: DeviceIndex;
  /** revoked serials, keyed by serialKey() */
  readonly #revoked = new Map<string, { serialHex: string; deviceId: string; at: number }>();
  /** the device records, from the node hub's cache (one copy of them in the daemon) */
  readonly #device: (id: string) => DeviceRecord | undefined;
  #crl: SignedCrl | undefined;
  /** the last CRL number used: each new CRL gets a greater one (RFC 5280, 5.2.3) */
  #number = 0;
  #pending: Promise<void> | undefined;
  readonly #listeners: ((crl: SignedCrl) => void)[] = [];

  constructor(ca: CertificateAuthority, index: DeviceIndex, device: (id: string) => DeviceRecord | undefined, now: () => number) {
    this.#ca = ca;
    this.#caCert = new X509Certificate(ca.certDer);
    this.#index = index;
    this.#device = device;
    this.#now = now;
  }

  /** Take in a device's revoked serials; resolves once the CRL includes any new one. */
  async update(d: DeviceRecord): Promise<void> {
    if (this.#take(d) || !this.#crl) await this.regenerate();
    // Its serials may have been taken by another caller whose signing is still under way.
    else await this.#pending;
  }

  /** Take in every device at start, then sign one CRL. */
  async load(devices: Iterable<DeviceRecord>): Promise<void> {
    for (const d of devices) this.#take(d);
    await this.regenerate();
  }

  #take(d: DeviceRecord): boolean {
    let changed = false;
    for (const r of d.revokedSerials ?? []) {
      const key = serialKey(r.serial);
      if (!this.#revoked.has(key)) {
        this.#revoked.set(key, { serialHex: r.serial, deviceId: d.id, at: r.at });
        changed = true;
      }
    }
    return changed;
  }

  /** Sign a new CRL (serialized: concurrent calls share one run after the current). */
  async regenerate(): Promise<void> {
    const run = async () => {
      const now = this.#now();
      // Seconds since the epoch, so it grows across restarts too; and never repeated, even
      // for two CRLs signed within one second.
      this.#number = Math.max(this.#number + 1, Math.floor(now / 1000));
      const der = await this.#ca.issueCrl({
        revoked: [...this.#revoked.values()].map((r) => ({ serialHex: r.serialHex, revokedAt: r.at })),
        now,
        crlNumber: this.#number,
        nextUpdateMs: CRL_VALIDITY_MS,
      });
      this.#crl = { der, thisUpdate: Math.floor(now / 1000) * 1000, nextUpdate: Math.floor((now + CRL_VALIDITY_MS) / 1000) * 1000 };
      for (const l of this.#listeners) l(this.#crl);
    };
    const p = (this.#pending ?? Promise.resolve()).then(run, run);
    this.#pending = p;
    await p;
  }

  async crl(): Promise<SignedCrl> {
    if (!this.#crl) await this.regenerate();
    return this.#crl as SignedCrl;
  }

  /** The number of the last signed CRL (0 before the first). */
  get number(): number {
    return this.#number;
  }

  /** How many serials the CRL lists. */
  get revokedCount(): number {
    return this.#revoked.size;
  }

  /** The last signed CRL, if one was made yet. */
  current(): SignedCrl | undefined {
    return this.#crl;
  }

  /** Be told of every newly signed CRL (revocations, and the daily refresh). */
  onChange(listener: (crl: SignedCrl) => void): void {
    this.#listeners.push(listener);
  }

  /** The authority's answer about a token: its signature, audience and times, and whether its device is still good. */
  verifyToken(token: string, audience: string, jwks: Jwks): { status: VerifyStatus; deviceId: string; role: string; reason: string } {
    let claims;
    try {
      claims = verifyToken(token, jwks, { audience, now: this.#now() });
    } catch (err) {
      const reason = (err as Error).message;
      return { status: /expired/.test(reason) ? "expired" : "unknown", deviceId: "", role: "", reason };
    }
    const d = this.#device(claims.sub);
    if (!d) return { status: "unknown", deviceId: claims.sub, role: "", reason: "no such device" };
    if (d.revokedAt) return { status: "revoked", deviceId: d.id, role: "", reason: "the device is revoked" };
    return { status: "valid", deviceId: d.id, role: d.role, reason: "" };
  }

  /**
   * The device-to-device policy: allowed when either device is an orchestrator, when neither
   * has labels, or when they share at least one label (same key and value).
   */
  policy(subject: string, peer: string): { allowed: boolean; policy: string } {
    const a = this.#device(subject);
    const b = this.#device(peer);
    if (!a || !b) return { allowed: false, policy: "unknown device" };
    if (b.revokedAt) return { allowed: false, policy: `${peer} is revoked` };
    if (a.role === "orchestrator" || b.role === "orchestrator") return { allowed: true, policy: "an orchestrator is involved" };
    const la = a.labels ?? {};
    const lb = b.labels ?? {};
    if (Object.keys(la).length === 0 && Object.keys(lb).length === 0) return { allowed: true, policy: "neither device has labels" };
    const shared = Object.entries(la).find(([k, v]) => lb[k] === v);
    return shared ? { allowed: true, policy: `both have ${shared[0]}=${shared[1]}` } : { allowed: false, policy: "no shared label" };
  }

  /** The authority's answer about a certificate. */
  verify(der: Uint8Array): { status: VerifyStatus; deviceId: string; role: string; reason: string } {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return { status: "unknown", deviceId: "", role: "", reason: "not a DER certificate" };
    }
    if (!cert.checkIssued(this.#caCert) || !cert.verify(this.#caCert.publicKey)) {
      return { status: "unknown", deviceId: "", role: "", reason: "not issued by this CA" };
    }
    const deviceId = deviceIdFromSubjectAltName(cert.subjectAltName) ?? "";
    const serial = serialKey(cert.serialNumber);
    if (this.#revoked.has(serial)) return { status: "revoked", deviceId, role: "", reason: "the certificate is on the CRL" };
    const now = this.#now();
    if (now < Date.parse(cert.validFrom) || now >= Date.parse(cert.validTo)) {
      return { status: "expired", deviceId, role: "", reason: `valid ${cert.validFrom} .. ${cert.validTo}` };
    }
    const fp = cert.fingerprint256.replace(/:/g, "").toLowerCase();
    const dev = this.#device(deviceId);
    if (dev && (dev.peerCertificateSerials ?? []).some((s) => serialKey(s) === serial)) {
      // a peer-server certificate: good while its device is
      return dev.revokedAt ? { status: "revoked", deviceId, role: "", reason: "the device is revoked" } : { status: "valid", deviceId, role: dev.role, reason: "" };
    }
    const entry = this.#index.lookup(fp);
    if (!entry) return { status: "unknown", deviceId, role: "", reason: "not a current certificate of any device (replaced, or not a device certificate)" };
    return { status: "valid", deviceId: entry.deviceId, role: entry.role, reason: "" };
  }
}

/** Add the policy's answer to a Verify result when a peer device is named. */
export function withPolicy<R extends { status: VerifyStatus; deviceId: string }>(r: Revocations, peerDeviceId: string, res: R): R & { allowed: boolean; policy: string } {
  if (!peerDeviceId) return { ...res, allowed: res.status === "valid", policy: "" };
  if (res.status !== "valid") return { ...res, allowed: false, policy: `subject is ${res.status}` };
  return { ...res, ...r.policy(res.deviceId, peerDeviceId) };
}
