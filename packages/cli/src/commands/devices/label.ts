/** tether devices label ID key=value ... [--remove KEY] */
import type { Device } from "@tether/wire";
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit } from "../../cli.js";

export const devicesLabelCommand: Command = {
  name: "devices label",
  summary: "set or remove labels that decide which devices may talk to each other",
  usage: "tether devices label ID [KEY=VALUE ...] [--remove KEY ...] [--data-dir DIR] [--json]",
  help: `Labels feed the device-to-device policy that Verify answers (and peer servers enforce):
two devices may talk when either is an orchestrator, when neither has labels, or when they
share a label (same key and value). Example: put a site's nodes together with
  tether devices label dev_abc... site=berlin
Keys and values match [a-z0-9][a-z0-9._-]{0,62}; at most 32 labels.`,
  options: { ...DATA_DIR_OPTION, remove: { type: "string", multiple: true } },
  async run({ values, positionals, io }) {
    const [id, ...pairs] = positionals;
    const remove = (values.remove as string[] | undefined) ?? [];
    if (!id || (pairs.length === 0 && remove.length === 0)) throw new CliError(Exit.Usage, `give a device id and labels\nusage: ${this.usage}`);
    const set: Record<string, string> = {};
    for (const p of pairs) {
      const eq = p.indexOf("=");
      if (eq < 1) throw new CliError(Exit.Usage, `${JSON.stringify(p)} is not KEY=VALUE`);
      set[p.slice(0, eq)] = p.slice(eq + 1);
    }
    const d = await admin<Device>(await dataDirOf(values, io.env), "SetLabels", { id, set, remove });
    emit(io, Boolean(values.json), { id: d.id, labels: d.labels }, () => `${d.id}: ${Object.entries(d.labels).map(([k, v]) => `${k}=${v}`).join(" ") || "(no labels)"}\n`);
    return Exit.Ok;
  },
};
