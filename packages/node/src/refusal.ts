/**
 * What a device is told when the daemon refuses its certificate for good (a stream ended, or
 * a call refused, with PERMISSION_DENIED, UNAUTHENTICATED or ABORTED): the fact, as far as
 * this device can tell it (the daemon's refusal, and its own certificate's dates), and the
 * step that works from there. Retrying never does (docs/fleet.md §1.3).
 */
import { X509Certificate } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { printable } from "./client.js";
import { NodeError } from "./errors.js";

/** What the explanation is based on: the refusal, and this device's own certificate. */
export type Refusal = { code: number; details: string; deviceId: string; certPem: string; now?: number };

/** The step that works after a revocation (the daemon refuses to pair a revoked device). */
function unrevokeStep(deviceId: string): string {
  return `before this device can pair again, an admin must run \`tether devices unrevoke ${deviceId}\`; then pair it with a new code (\`tether pair code\` prints the command to run here)`;
}

/** The certificate's validity window, or undefined when it cannot be read. */
function windowOf(certPem: string): { notBefore: number; notAfter: number } | undefined {
  try {
    const c = new X509Certificate(certPem);
    return { notBefore: Date.parse(c.validFrom), notAfter: Date.parse(c.validTo) };
  } catch {
    return undefined;
  }
}

/**
 * The NodeError for a refusal that retrying cannot mend, with a message that states what is
 * true and what works. The daemon's own words are its `cause` (shown safe to print).
 */
export function refusedForGood(r: Refusal): NodeError {
  const now = r.now ?? Date.now();
  const daemonSaid = `daemon refused this device (${status[r.code] ?? r.code}): ${printable(r.details)}`;
  const cause = new Error(daemonSaid);
  const code = /^([A-Z_]+):/.exec(r.details)?.[1];
  const w = windowOf(r.certPem);
  const id = r.deviceId;
  // The daemon refuses an expired certificate whatever it says about it (NO_CLIENT_CERT, CERT_EXPIRED).
  if (w && now >= w.notAfter) {
    return new NodeError(
      "EXPIRED",
      `this device's certificate expired at ${new Date(w.notAfter).toISOString()}, and an expired certificate cannot be renewed: ` +
        "the device returns by its identity key instead: run `tether node renew` here (within the daemon's --return-grace it gets a new certificate at once, later an admin approves its return; `tether node run` does this by itself)",
      { cause },
    );
  }
  // A stream ended by the revocation, or a certificate the daemon knows as a revoked device's.
  if ((r.code === status.PERMISSION_DENIED && /revoked/.test(r.details)) || (code === "CERT_NOT_CURRENT" && / is revoked$/.test(r.details))) {
    return new NodeError("REVOKED", `an admin revoked this device (${id}), so the daemon refuses its certificate for good; ${unrevokeStep(id)}`, { cause });
  }
  if (r.code === status.ABORTED) {
    return new NodeError(
      "DAEMON_REFUSED",
      `another process connected as this device (${id}), with the same identity, and replaced this connection: ` +
        "run one `tether node run` per state directory (stop the other one, or give each node its own --state-dir)",
      { cause },
    );
  }
  const until = w ? ` (by this machine's clock it is valid until ${new Date(w.notAfter).toISOString()})` : "";
  if (code === "CERT_NOT_CURRENT") {
    return new NodeError(
      "DAEMON_REFUSED",
      `the daemon no longer accepts this device's certificate${until}: it was replaced, by a later pairing or renewal of device ${id} ` +
        "(from another state directory?), or when an admin cleared its revocation. Pair this state directory again with a new code " +
        "(an admin's `tether pair code` prints the command to run here), or use the state directory that holds the newer certificate",
      { cause },
    );
  }
  if (code === "CERT_EXPIRED") {
    return new NodeError(
      "DAEMON_REFUSED",
      `the daemon's clock says this device's certificate is expired or not yet valid${until}: the two machines' clocks differ. ` +
        "Fix the clock that is wrong (NTP) and run this again",
      { cause },
    );
  }
  if (code === "NO_CLIENT_CERT") {
    return new NodeError(
      "DAEMON_REFUSED",
      `the daemon did not accept this device's certificate as a valid one of its CA${until}; most often the two machines' clocks differ. ` +
        "Check both clocks (NTP) and run this again; if they agree, pair this device again with a new code",
      { cause },
    );
  }
  return new NodeError(code === "DEVICE_REVOKED" ? "REVOKED" : "DAEMON_REFUSED", daemonSaid, { cause });
}
