/** tether devices show ID */
import type { Device } from "@tether/wire";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime } from "../../cli.js";
import { formatJobsScope } from "./grant.js";

export const devicesShowCommand: Command = {
  name: "devices show",
  summary: "show one device, with its current certificate",
  usage: "tether devices show ID [--data-dir DIR] [--json]",
  help: `Shows device ID: name, role, identity key, certificate serial, fingerprint and
expiry, its labels, for an orchestrator which jobs it may see (own, all, or KEY=VALUE
label pairs: tether devices grant), and the certificate itself in PEM (check it with
openssl x509 -text).`,
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new CliError(Exit.Usage, `give exactly one device id\nusage: ${this.usage}`);
    const d = await admin<Device>(await dataDirOf(values, io.env), "GetDevice", { id });
    emit(io, Boolean(values.json), d, () =>
      [
        `device ${d.id}`,
        `  name:                ${d.name}`,
        `  role:                ${d.role}`,
        `  identity key:        ${d.identityKey}`,
        `  key fingerprint:     ${d.keyFingerprint}`,
        `  paired:              ${isoTime(d.pairedAt)} (request ${d.requestId})`,
        `  certificate serial:  ${d.certificateSerial}`,
        `  certificate sha256:  ${d.certificateFingerprint}`,
        `  certificate expires: ${isoTime(d.certificateNotAfter)}`,
        `  labels:              ${Object.entries(d.labels).map(([k, v]) => `${k}=${v}`).join(" ") || "-"}`,
        ...(d.role === "orchestrator" ? [`  jobs:                ${formatJobsScope(d.jobScope)}`] : []),
        d.certificatePem,
      ].join("\n"),
    );
    return Exit.Ok;
  },
};
