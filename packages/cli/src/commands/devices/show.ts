/** tether devices show ID */
import type { Device } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, OUTPUT_OPTION, admin, dataDirOf, emit, isoTime, tty } from "../../cli.js";
import { formatJobsScope } from "./grant.js";

/** A pending rotation (tether devices rotate) as devices show and devices list print it. */
export function rotationText(d: Device): string {
  return d.rotationRequestedAt ? `pending since ${isoTime(d.rotationRequestedAt)}` : "pending";
}

export const devicesShowCommand: Command = {
  name: "devices show",
  summary: "show one device, with its current certificate",
  args: [{ name: "ID", about: "the device id (dev_…, from tether devices list)", complete: "devices" }],
  help: `Shows device ID: name, role, state, what the node announced (platform, version,
capabilities), labels, for an orchestrator which jobs it may see (own, all, or KEY=VALUE
label pairs: tether devices grant), identity key, certificate serial, fingerprint and
expiry, a rotation asked for and not done yet ("rotation: pending since TIME"; JSON:
rotationPending, rotationRequestedAt), and the certificate itself in PEM (check it with
openssl x509 -text). -o wide adds the jobs it runs now; table and wide show every other
field alike.`,
  examples: ["tether devices show dev_4bzq3hh3tg2l6xyndziosfoxjw", "tether devices show dev_4bzq3hh3tg2l6xyndziosfoxjw --json"],
  options: { ...OUTPUT_OPTION, ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const d = await admin<Device>(await dataDirOf(values, io.env), "GetDevice", { id });
    // Name, platform, version and capabilities came from the node: each shown on its line, inert.
    emit(io, Boolean(values.json), d, () =>
      [
        tty`device ${d.id}\n`,
        tty`  name:                ${d.name}\n`,
        tty`  role:                ${d.role}\n`,
        tty`  state:               ${d.revokedAt ? `revoked ${isoTime(d.revokedAt)} (${d.revokeReason || "no reason given"})` : d.online ? (d.connectedVia ? `online via replica ${d.connectedVia}` : "online") : "offline"}, last seen ${isoTime(d.lastSeen)}\n`,
        tty`  platform, version:   ${d.platform || "-"}, ${d.version || "-"}\n`,
        tty`  capabilities:        ${d.capabilities.join(",") || "-"}\n`,
        ...(values.output === "wide" ? [tty`  jobs in flight:      ${d.inFlight ?? 0}\n`] : []),
        tty`  labels:              ${
          Object.entries(d.labels ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(" ") || "-"
        }\n`,
        ...(d.role === "orchestrator" ? [tty`  jobs:                ${formatJobsScope(d.jobScope)}\n`] : []),
        tty`  identity key:        ${d.identityKey}\n`,
        tty`  key fingerprint:     ${d.keyFingerprint}\n`,
        tty`  paired:              ${isoTime(d.pairedAt)} (request ${d.requestId})\n`,
        tty`  certificate serial:  ${d.certificateSerial}\n`,
        tty`  certificate sha256:  ${d.certificateFingerprint}\n`,
        tty`  certificate expires: ${isoTime(d.certificateNotAfter)}\n`,
        ...(d.rotationPending ? [tty`  rotation:            ${rotationText(d)}\n`] : []),
        d.certificatePem,
      ].join(""),
    );
    return Exit.Ok;
  },
};
