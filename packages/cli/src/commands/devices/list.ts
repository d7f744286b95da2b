/** tether devices list */
import type { Device } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime, table } from "../../cli.js";
import { rotationText } from "./show.js";

export const devicesListCommand: Command = {
  name: "devices list",
  summary: "list paired devices",
  usage: "tether devices list [--data-dir DIR] [--json]",
  help: `Lists every device that has been approved: role, online/offline/revoked (and
"rotation pending since TIME" when tether devices rotate has not taken effect yet), when
it was last seen, the capabilities it announced, and when its certificate expires.
Details, including the certificate: tether devices show ID`,
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const { devices } = await admin<{ devices: Device[] }>(await dataDirOf(values, io.env), "ListDevices", {});
    const slim = devices.map(({ certificatePem: _pem, ...d }) => d);
    emit(io, Boolean(values.json), slim, () =>
      devices.length === 0
        ? "no paired devices\n"
        : table(
            ["ID", "NAME", "ROLE", "STATE", "LAST SEEN", "CAPABILITIES", "CERT EXPIRES"],
            devices.map((d) => [
              d.id,
              d.name,
              d.role,
              `${d.revokedAt ? "revoked" : d.online ? "online" : "offline"}${d.rotationPending && !d.revokedAt ? `, rotation ${rotationText(d)}` : ""}`,
              isoTime(d.lastSeen),
              d.capabilities.join(",") || "-",
              isoTime(d.certificateNotAfter),
            ]),
          ),
    );
    return Exit.Ok;
  },
};
