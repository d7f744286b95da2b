/**
 * The webhook events that no write makes but time does (docs/webhooks.md): `device.offline`
 * once a device has been silent for a while, `certificate.expiring` once a device's
 * certificate nears its end without having been renewed, and `certificate.expired` once it
 * has ended (the device can still come back by its identity key: Pairing.Return). Pure: the daemon gives the devices as
 * it sees them, the marks of what was already sent, and the time; it writes the events and the
 * new marks in one batch, so each is sent once per silence and once per certificate, across
 * restarts too.
 */
import type { WebhookEvent } from "./events.js";

/**
 * What was already sent for one device: the latest silence reported (by the last-seen time it
 * began at; a silence that began then or earlier is not reported again, as after a restart,
 * when the stored last-seen time can be older than the one this process knew) and the
 * certificate (by fingerprint).
 */
export type WatchMark = { id: string; offlineSince?: number; expiringCertificate?: string; expiredCertificate?: string };

/** A device as the watch needs it. */
export type Watched = {
  id: string;
  name: string;
  online: boolean;
  /** ms; 0 when it never connected (such a device is not said to go offline) */
  lastSeen: number;
  revoked: boolean;
  certificateFingerprint: string;
  certificateNotAfter: number;
};

export type WatchPolicy = { offlineAfterMs: number; expiringBeforeMs: number };

/** How often the daemon looks: a quarter of the silence, within 1 to 30 seconds. */
export function watchIntervalMs(p: WatchPolicy): number {
  return Math.min(30_000, Math.max(1_000, Math.floor(p.offlineAfterMs / 4)));
}

/** The events due now, and the marks to store with them (one per device with a new event). */
export function watchEvents(devices: Iterable<Watched>, marks: ReadonlyMap<string, WatchMark>, now: number, p: WatchPolicy): { events: WebhookEvent[]; marks: WatchMark[] } {
  const events: WebhookEvent[] = [];
  const changed: WatchMark[] = [];
  for (const d of devices) {
    if (d.revoked) continue;
    const had = marks.get(d.id);
    let mark: WatchMark | undefined;
    if (!d.online && d.lastSeen > 0 && now - d.lastSeen >= p.offlineAfterMs && d.lastSeen > (had?.offlineSince ?? 0)) {
      events.push({ type: "device.offline", data: { device: d.id, name: d.name, lastSeen: new Date(d.lastSeen).toISOString(), silentForMs: now - d.lastSeen } });
      mark = { ...(had ?? { id: d.id }), offlineSince: d.lastSeen };
    }
    const cert = { device: d.id, name: d.name, certificate: d.certificateFingerprint, notAfter: new Date(d.certificateNotAfter).toISOString() };
    if (d.certificateNotAfter <= now) {
      if (had?.expiredCertificate !== d.certificateFingerprint) {
        events.push({ type: "certificate.expired", data: { ...cert, expiredForMs: now - d.certificateNotAfter } });
        mark = { ...(mark ?? had ?? { id: d.id }), expiredCertificate: d.certificateFingerprint };
      }
    } else if (d.certificateNotAfter - now <= p.expiringBeforeMs && had?.expiringCertificate !== d.certificateFingerprint) {
      events.push({ type: "certificate.expiring", data: { ...cert, expiresInMs: d.certificateNotAfter - now } });
      mark = { ...(mark ?? had ?? { id: d.id }), expiringCertificate: d.certificateFingerprint };
    }
    if (mark) changed.push(mark);
  }
  return { events, marks: changed };
}
