/** tether devices list [--online] [--role ROLE] [--label KEY=VALUE ...] */
import type { Device } from "@tether/wire";
import type { Command } from "../../cli.js";
import { parseDurationMs } from "@tether/base";
import { DATA_DIR_OPTION, Exit, OUTPUT_OPTION, admin, dataDirOf, emit, isoTime, str, table, usageError } from "../../cli.js";
import { formatJobsScope } from "./grant.js";
import { rotationText } from "./show.js";

/**
 * The devices that pass every filter given: online, of the role, carrying each label, and
 * (with `expiringWithinMs`) not revoked with a certificate that ends within it or has ended.
 */
export function filterDevices(
  devices: Device[],
  f: { online: boolean; role: string | undefined; labels: Record<string, string>; expiringWithinMs?: number; now?: number },
): Device[] {
  const now = f.now ?? Date.now();
  return devices.filter(
    (d) =>
      (!f.online || (d.online && !d.revokedAt)) &&
      (!f.role || d.role === f.role) &&
      Object.entries(f.labels).every(([k, v]) => (d.labels ?? {})[k] === v) &&
      (f.expiringWithinMs === undefined || (!d.revokedAt && Number(d.certificateNotAfter) - now <= f.expiringWithinMs)),
  );
}

/** The certificate's end, and "expired" or "in 5h" when it has ended or ends within a day. */
function certCell(d: Device, now: number): string {
  const end = Number(d.certificateNotAfter);
  const left = end - now;
  if (d.revokedAt) return isoTime(end);
  if (left <= 0) return `${isoTime(end)} (expired)`;
  if (left < 24 * 3600_000) return `${isoTime(end)} (in ${left < 3600_000 ? `${Math.ceil(left / 60_000)}m` : `${Math.floor(left / 3600_000)}h`})`;
  return isoTime(end);
}

export const devicesListCommand: Command = {
  name: "devices list",
  summary: "list paired devices",
  args: [],
  help: `Lists every device that has been approved: role, online/offline/revoked (and
"rotation pending since TIME" when tether devices rotate has not taken effect yet), when
it was last seen, the capabilities it announced, and when its certificate expires
("expired", or "in 5h" within a day). --expiring 7d lists those that need a look: an
expired device comes back by itself within the daemon's --return-grace (30 days), and
needs an admin's approval after it (docs/fleet.md, 5A.5).
The filters narrow the list; given together, a device must pass each.
-o wide adds its labels, platform, version, the jobs it runs now and, for an
orchestrator, which jobs it may see.
Details, including the certificate: tether devices show ID`,
  examples: ["tether devices list", "tether devices list --online --role node --label site=berlin", "tether devices list --expiring 7d", "tether devices list -o wide"],
  options: {
    online: { type: "boolean", about: "only devices connected now" },
    role: { type: "string", choices: ["node", "orchestrator"], about: "only devices of this role", default: "every role" },
    label: { type: "string", multiple: true, value: "KEY=VALUE", about: "only devices carrying this label", default: "none" },
    expiring: {
      type: "string",
      value: "DURATION",
      about: "only devices (not revoked) whose certificate ends within DURATION (e.g. 6h, 7d) or has ended",
      default: "every device",
    },
    ...OUTPUT_OPTION,
    ...DATA_DIR_OPTION,
  },
  async run({ values, io }) {
    const labels: Record<string, string> = {};
    for (const p of (values.label as string[] | undefined) ?? []) {
      const eq = p.indexOf("=");
      if (eq < 1 || eq === p.length - 1) throw usageError(this, `--label ${JSON.stringify(p)} is not KEY=VALUE`);
      labels[p.slice(0, eq)] = p.slice(eq + 1);
    }
    const { devices: all } = await admin<{ devices: Device[] }>(await dataDirOf(values, io.env), "ListDevices", {});
    const expiringText = str(values.expiring);
    const expiringWithinMs = expiringText === undefined ? undefined : parseDurationMs(expiringText);
    if (expiringText !== undefined && expiringWithinMs === undefined) throw usageError(this, `--expiring must be a duration like 6h or 7d, got ${JSON.stringify(expiringText)}`);
    const now = Date.now();
    const devices = filterDevices(all, { online: Boolean(values.online), role: str(values.role), labels, ...(expiringWithinMs !== undefined ? { expiringWithinMs } : {}), now });
    const slim = devices.map(({ certificatePem: _pem, ...d }) => d);
    const wide = values.output === "wide";
    const filtered = devices.length < all.length || values.online || values.role || values.label || expiringText;
    emit(io, Boolean(values.json), slim, () =>
      devices.length === 0
        ? filtered
          ? "no paired device matches\n"
          : "no paired devices\n"
        : table(
            ["ID", "NAME", "ROLE", "STATE", "LAST SEEN", "CAPABILITIES", "CERT EXPIRES", ...(wide ? ["LABELS", "PLATFORM", "VERSION", "IN FLIGHT", "JOBS"] : [])],
            devices.map((d) => [
              d.id,
              d.name,
              d.role,
              `${d.revokedAt ? "revoked" : d.online ? (d.connectedVia ? `online via ${d.connectedVia}` : "online") : "offline"}${d.rotationPending && !d.revokedAt ? `, rotation ${rotationText(d)}` : ""}`,
              isoTime(d.lastSeen),
              d.capabilities.join(",") || "-",
              certCell(d, now),
              ...(wide
                ? [
                    Object.entries(d.labels ?? {})
                      .map(([k, v]) => `${k}=${v}`)
                      .join(",") || "-",
                    d.platform || "-",
                    d.version || "-",
                    String(d.inFlight ?? 0),
                    d.role === "orchestrator" ? formatJobsScope(d.jobScope) : "-",
                  ]
                : []),
            ]),
          ),
    );
    return Exit.Ok;
  },
};
