/**
 * Whether the daemon is ready to serve, as one pure function of what it knows: the gRPC health
 * service (probes.ts) and the Prometheus `/readyz` endpoint both answer from it, so they never
 * disagree. Ready means: not stopping, the store still writable (no write has failed), a
 * shared database answering (PostgreSQL, checked every DATABASE_CHECK_INTERVAL_MS), and
 * every certificate the daemon serves or signs with inside its validity window by the
 * daemon's clock.
 */

/** A certificate's validity window (ms since the epoch), under the name the reason uses. */
export type CertWindow = { name: string; notBefore: number; notAfter: number };

export type ReadinessInput = {
  /** a store write has failed (StoreHealth.failed): the daemon refuses calls until restarted */
  storeFailed: boolean;
  /** a shared database (PostgreSQL) did not answer the last check */
  databaseDown?: boolean;
  /** close() has begun */
  closing: boolean;
  certs: readonly CertWindow[];
  /** the daemon's clock (ms) */
  now: number;
};

/** `reason` is "ok" when ready; otherwise every reason found, joined by "; ". */
export type Readiness = { ready: boolean; reason: string };

export const READY_REASON = "ok";
/** How often a daemon on PostgreSQL checks that the database answers (and how long it waits). */
export const DATABASE_CHECK_INTERVAL_MS = 1_000;

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : "an unreadable date");

/** Ready, or not and why (plain ASCII, no outside text: it may go into a response header). */
export function readiness(i: ReadinessInput): Readiness {
  const why: string[] = [];
  if (i.closing) why.push("the daemon is stopping");
  if (i.databaseDown) why.push("the database does not answer");
  if (i.storeFailed) why.push("a store write failed: the daemon refuses calls until it is restarted (tether status says why)");
  for (const c of i.certs) {
    // NaN (an unreadable date) fails both comparisons, so it is never taken for valid.
    if (!(i.now >= c.notBefore)) why.push(`the ${c.name} certificate is not valid until ${iso(c.notBefore)}`);
    else if (!(i.now < c.notAfter)) why.push(`the ${c.name} certificate expired at ${iso(c.notAfter)}`);
  }
  return why.length ? { ready: false, reason: why.join("; ") } : { ready: true, reason: READY_REASON };
}
