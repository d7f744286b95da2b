/** tether devices preauthorize / preauthorizations / unpreauthorize */
import { parseDurationMs } from "@tether/base";
import type { LegacyCommand as Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime, str, table } from "../../cli.js";

type Pre = { deviceId: string; identityKey: string; name: string; role: string; createdAt: number; expiresAt: number; usedAt: number; requestId: string };

function parseExpiry(text: string | undefined, now: number): number {
  if (!text) return 0;
  const ms = parseDurationMs(text);
  if (ms !== undefined) return now + ms;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new CliError(Exit.Usage, "--expires must be a duration (90d, 12h, 30m) or an ISO 8601 time");
  return t;
}

export const devicesPreauthorizeCommand: Command = {
  name: "devices preauthorize",
  summary: "register a node's identity key ahead of time, so it pairs without an admin",
  usage: "tether devices preauthorize --identity-key HEX [--name NAME] [--role node|orchestrator] [--expires 90d|TIME] [--data-dir DIR] [--json]",
  help: `Factory provisioning: make each node's identity on the line with
  tether node identity --state-dir DIR --json
and register its key here. When that node later pairs (it still needs a valid PIN or QR
code: a leaked public key alone never gets a certificate), its request is approved at once,
with the role given here. Each preauthorization works once. Default expiry: one year.
List them with \`tether devices preauthorizations\`; withdraw one with
\`tether devices unpreauthorize DEVICE_ID\`.`,
  options: { ...DATA_DIR_OPTION, "identity-key": { type: "string" }, name: { type: "string" }, role: { type: "string" }, expires: { type: "string" } },
  async run({ values, io }) {
    const key = str(values["identity-key"]);
    if (!key) throw new CliError(Exit.Usage, `give --identity-key HEX\nusage: ${this.usage}`);
    const role = str(values.role) ?? "node";
    if (role !== "node" && role !== "orchestrator") throw new CliError(Exit.Usage, "--role must be node or orchestrator");
    const p = await admin<Pre>(await dataDirOf(values, io.env), "Preauthorize", {
      identityKey: key,
      name: str(values.name) ?? "",
      role,
      expiresAt: parseExpiry(str(values.expires), Date.now()),
    });
    emit(io, Boolean(values.json), p, () => `preauthorized ${p.deviceId} as ${p.role} until ${isoTime(p.expiresAt)}\n`);
    return Exit.Ok;
  },
};

export const devicesPreauthorizationsCommand: Command = {
  name: "devices preauthorizations",
  summary: "list preauthorized identity keys",
  usage: "tether devices preauthorizations [--data-dir DIR] [--json]",
  help: "Lists preauthorized devices: role, expiry, and whether (and by which request) each was used.",
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const { preauthorizations: list } = await admin<{ preauthorizations: Pre[] }>(await dataDirOf(values, io.env), "ListPreauthorizations", {});
    emit(io, Boolean(values.json), list, () =>
      list.length === 0
        ? "no preauthorizations\n"
        : table(["DEVICE", "NAME", "ROLE", "EXPIRES", "USED"], list.map((p) => [p.deviceId, p.name || "-", p.role, isoTime(p.expiresAt), p.usedAt ? `${isoTime(p.usedAt)} (${p.requestId})` : "-"])),
    );
    return Exit.Ok;
  },
};

export const devicesUnpreauthorizeCommand: Command = {
  name: "devices unpreauthorize",
  summary: "withdraw a preauthorization",
  usage: "tether devices unpreauthorize DEVICE_ID [--data-dir DIR] [--json]",
  help: "Withdraws the preauthorization of DEVICE_ID; it will need an admin's approval again.",
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new CliError(Exit.Usage, `give exactly one device id\nusage: ${this.usage}`);
    const p = await admin<Pre>(await dataDirOf(values, io.env), "RevokePreauthorization", { deviceId: id });
    emit(io, Boolean(values.json), p, () => `withdrew the preauthorization of ${id}\n`);
    return Exit.Ok;
  },
};
