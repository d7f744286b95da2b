/** tether devices label ID key=value ... [--remove KEY] */
import type { Device } from "@tether/wire";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, usageError } from "../../cli.js";

export const devicesLabelCommand: Command = {
  name: "devices label",
  summary: "set or remove labels that decide which devices may talk to each other",
  args: [
    { name: "ID", about: "the device id (dev_…, from tether devices list)", complete: "devices" },
    { name: "KEY=VALUE", about: "labels to set", optional: true, variadic: true },
  ],
  help: `Labels feed the device-to-device policy that Verify answers (and peer servers enforce):
two devices may talk when either is an orchestrator, when neither has labels, or when they
share a label (same key and value). Orchestrators can also be granted the jobs of the devices
with given labels (tether devices grant). Give at least one KEY=VALUE or --remove.
Keys and values match [a-z0-9][a-z0-9._-]{0,62}; at most 32 labels.`,
  examples: [
    "tether devices label dev_4bzq3hh3tg2l6xyndziosfoxjw site=berlin   # put a site's nodes together",
    "tether devices label dev_4bzq3hh3tg2l6xyndziosfoxjw --remove site",
  ],
  options: { remove: { type: "string", multiple: true, value: "KEY", about: "remove this label", default: "none" }, ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const [id = "", ...pairs] = positionals;
    const remove = (values.remove as string[] | undefined) ?? [];
    if (pairs.length === 0 && remove.length === 0) throw usageError(this, "give labels to set (KEY=VALUE) or --remove KEY");
    const set: Record<string, string> = {};
    for (const p of pairs) {
      const eq = p.indexOf("=");
      if (eq < 1) throw usageError(this, `${JSON.stringify(p)} is not KEY=VALUE`);
      set[p.slice(0, eq)] = p.slice(eq + 1);
    }
    const d = await admin<Device>(await dataDirOf(values, io.env), "SetLabels", { id, set, remove });
    emit(
      io,
      Boolean(values.json),
      { id: d.id, labels: d.labels },
      () =>
        `${d.id}: ${
          Object.entries(d.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ") || "(no labels)"
        }\n`,
    );
    return Exit.Ok;
  },
};
