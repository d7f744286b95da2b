/**
 * Who is calling: the peer certificate of a call, checked against the live device index.
 * The index maps the SHA-256 fingerprint of each device's *current* certificate to the device;
 * a revoked device, a re-paired device's old certificate, a certificate from another CA or an
 * expired one are simply not found or not valid: one O(1) lookup per stream open or unary call.
 */
import { Metadata, status } from "@grpc/grpc-js";
import type { DeviceRecord } from "@tether/pairing";
import { RENEW_NOW_HEADER } from "@tether/wire";
import { DaemonError } from "./errors.js";

export type Peer = { deviceId: string; role: string; fingerprint: string };

/** What the index knows of a device's current (or retired) certificate. */
type Entry = { deviceId: string; role: string; rotationPending?: boolean };

/**
 * After a renewal the previous certificate stays accepted this long, so that whoever still
 * holds it can switch over: the renewing process's open channel, and another program that
 * reads the same state directory and reloads when told (a `--exec` / `--on-renew` hook runs
 * within a second of the renewal; docs/clients.md).
 */
export const RENEWAL_OVERLAP_MS = 2 * 60_000;

export class DeviceIndex {
  readonly #byFingerprint = new Map<string, Entry>();
  readonly #fingerprintOf = new Map<string, string>();
  /**
   * Certificates replaced by a renewal, accepted until `until` (in memory: a restart ends the
   * overlap). In insertion order, which is the order of `until` (always now + the same overlap),
   * so expired ones are dropped from the front: the map holds one overlap's renewals, not the
   * daemon's history, and no update walks it.
   */
  readonly #retired = new Map<string, Entry & { until: number }>();
  /** the retired certificates of each device, to drop them when it is revoked */
  readonly #retiredOf = new Map<string, Set<string>>();
  /**
   * The last certificate of each revoked device, never accepted: only so that the refusal can
   * tell that device it is revoked (and not merely replaced). One entry per revoked device.
   */
  readonly #revoked = new Map<string, string>();
  readonly #revokedFingerprintOf = new Map<string, string>();
  readonly #now: () => number;
  readonly #overlapMs: number;

  constructor(now: () => number = Date.now, overlapMs = RENEWAL_OVERLAP_MS) {
    this.#now = now;
    this.#overlapMs = overlapMs;
  }

  /** Reflect a device record: index its current certificate unless it is revoked. */
  update(d: DeviceRecord): void {
    const old = this.#fingerprintOf.get(d.id);
    const oldEntry = old ? this.#byFingerprint.get(old) : undefined;
    if (old) this.#byFingerprint.delete(old);
    this.#fingerprintOf.delete(d.id);
    const now = this.#now();
    this.#sweep(now);
    if (d.revokedAt || !d.certificateFingerprint) for (const fp of this.#retiredOf.get(d.id) ?? []) this.#dropRetired(fp, d.id);
    const wasRevoked = this.#revokedFingerprintOf.get(d.id);
    if (wasRevoked) this.#revoked.delete(wasRevoked);
    this.#revokedFingerprintOf.delete(d.id);
    if (d.revokedAt && d.certificateFingerprint) {
      this.#revoked.set(d.certificateFingerprint, d.id);
      this.#revokedFingerprintOf.set(d.id, d.certificateFingerprint);
    }
    if (d.revokedAt || !d.certificateFingerprint) return;
    if (old && oldEntry && old !== d.certificateFingerprint) {
      // A renewal: the old certificate keeps working for a short overlap, then never again.
      // Its calls are not asked to renew (that was the rotation the renewal just did).
      this.#dropRetired(old, oldEntry.deviceId); // (re-inserted at the end, in expiry order)
      this.#retired.set(old, { deviceId: oldEntry.deviceId, role: oldEntry.role, until: now + this.#overlapMs });
      const mine = this.#retiredOf.get(oldEntry.deviceId);
      if (mine) mine.add(old);
      else this.#retiredOf.set(oldEntry.deviceId, new Set([old]));
    }
    this.#byFingerprint.set(d.certificateFingerprint, { deviceId: d.id, role: d.role, ...(d.rotateRequested ? { rotationPending: true } : {}) });
    this.#fingerprintOf.set(d.id, d.certificateFingerprint);
  }

  lookup(fingerprint: string): Entry | undefined {
    const current = this.#byFingerprint.get(fingerprint);
    if (current) return current;
    const retired = this.#retired.get(fingerprint);
    if (retired && this.#now() < retired.until) return retired;
    if (retired) this.#dropRetired(fingerprint, retired.deviceId);
    return undefined;
  }

  /** Drop the expired retired certificates at the front (a clock stepped back leaves some for a later sweep; lookup checks `until` anyway). */
  #sweep(now: number): void {
    for (const [fp, e] of this.#retired) {
      if (now < e.until) break;
      this.#dropRetired(fp, e.deviceId);
    }
  }

  #dropRetired(fingerprint: string, deviceId: string): void {
    this.#retired.delete(fingerprint);
    const mine = this.#retiredOf.get(deviceId);
    if (!mine) return;
    mine.delete(fingerprint);
    if (mine.size === 0) this.#retiredOf.delete(deviceId);
  }

  /** Retired certificates held now (still in their overlap, or expired and not yet swept). */
  get retiredCount(): number {
    return this.#retired.size;
  }

  /** The revoked device whose last certificate this is, if any (such a certificate is never accepted). */
  revokedDevice(fingerprint: string): string | undefined {
    return this.#revoked.get(fingerprint);
  }

  get size(): number {
    return this.#byFingerprint.size;
  }
}

type PeerCert = { raw?: Buffer; fingerprint256?: string; valid_from?: string; valid_to?: string };
type WithAuth = { getAuthContext?: () => { sslPeerCertificate?: PeerCert } | null; sendMetadata?: (md: Metadata) => void };

/**
 * The validity window of the presented certificate. It is the very certificate the index
 * names (same SHA-256 of its DER), so its dates are the signed ones, and nothing needs to
 * parse the stored copy.
 */
function windowOf(cert: PeerCert): { notBefore: number; notAfter: number } {
  return { notBefore: Date.parse(cert.valid_from ?? ""), notAfter: Date.parse(cert.valid_to ?? "") };
}

/**
 * Authenticate a call's client certificate. When an admin asked the device for a rotation
 * (and this is its current certificate), the call's response headers say `tether-renew-now`
 * (docs/fleet.md §5A.4), unless `hint` is false (Renew itself, and the Node.Connect stream,
 * which gets a `renew` message instead).
 * @throws DaemonError with UNAUTHENTICATED (no, unknown, revoked or expired certificate) or
 *   PERMISSION_DENIED (wrong role).
 */
export function authenticate(call: WithAuth, index: DeviceIndex, now: number, roles?: readonly string[], o: { hint?: boolean } = {}): Peer {
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  const fp = cert?.raw && cert.fingerprint256 ? cert.fingerprint256.replace(/:/g, "").toLowerCase() : undefined;
  if (!fp) {
    throw new DaemonError(
      "NO_CLIENT_CERT",
      "no valid client certificate: none was sent, or it is expired, not yet valid, or not from this daemon's CA (an expired certificate cannot renew itself: the device returns by its identity key, Pairing.Return; tether node renew does it)",
      { status: status.UNAUTHENTICATED },
    );
  }
  const e = index.lookup(fp);
  if (!e) {
    // TLS proved the peer holds this certificate's key: telling it that its device is revoked
    // tells nobody else anything.
    const revoked = index.revokedDevice(fp);
    const why = revoked ? `: device ${revoked} is revoked` : " (unknown CA, replaced or revoked)";
    throw new DaemonError("CERT_NOT_CURRENT", `client certificate is not a current certificate of any device${why}`, { status: status.UNAUTHENTICATED });
  }
  const w = windowOf(cert as PeerCert);
  if (!(now >= w.notBefore && now < w.notAfter)) {
    throw new DaemonError(
      "CERT_EXPIRED",
      "client certificate is expired or not yet valid; an expired certificate cannot renew itself: the device returns by its identity key (Pairing.Return; tether node renew does it)",
      {
        status: status.UNAUTHENTICATED,
      },
    );
  }
  if (roles && !roles.includes(e.role)) {
    throw new DaemonError("WRONG_ROLE", `device role "${e.role}" may not call this (needs ${roles.join(" or ")})`, { status: status.PERMISSION_DENIED });
  }
  if (e.rotationPending && o.hint !== false && call.sendMetadata) {
    const md = new Metadata();
    md.set(RENEW_NOW_HEADER, "rotation requested by the admin");
    call.sendMetadata(md);
  }
  return { deviceId: e.deviceId, role: e.role, fingerprint: fp };
}
