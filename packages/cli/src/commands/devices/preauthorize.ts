/** tether devices preauthorize / preauthorizations / unpreauthorize */
import { parseDurationMs } from "@tether/base";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, OUTPUT_OPTION, admin, dataDirOf, emit, isoTime, str, table } from "../../cli.js";

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
  args: [],
  help: `Factory provisioning: make each node's identity on the line with
  tether node identity --state-dir DIR --json
and register its key here. When that node later pairs (it still needs a valid PIN or QR
code: a leaked public key alone never gets a certificate), its request is approved at once,
with the role given here. Each preauthorization works once.
List them with \`tether devices preauthorizations\`; withdraw one with
\`tether devices unpreauthorize DEVICE_ID\`.`,
  examples: ['tether devices preauthorize --identity-key "$(tether node identity --state-dir /mnt/img/tether --json | jq -r .identityKey)" --name rack7 --expires 30d'],
  options: {
    "identity-key": { type: "string", required: true, value: "HEX", about: "the node's Ed25519 identity public key, 64 hex digits (tether node identity)" },
    name: { type: "string", value: "NAME", about: "a name for the list", default: "none" },
    role: { type: "string", choices: ["node", "orchestrator"], about: "the role it gets when it pairs", default: "node" },
    expires: { type: "string", value: "90d|TIME", about: "a duration from now (90d, 12h, 30m) or an ISO 8601 time", default: "one year" },
    ...DATA_DIR_OPTION,
  },
  async run({ values, io }) {
    const key = str(values["identity-key"]) as string;
    const role = str(values.role) ?? "node";
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
  args: [],
  help: `Lists preauthorized devices: role, expiry, and whether (and by which request) each was used.
-o wide adds when each was made and the identity key.`,
  examples: ["tether devices preauthorizations", "tether devices preauthorizations -o wide"],
  options: { ...OUTPUT_OPTION, ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const { preauthorizations: list } = await admin<{ preauthorizations: Pre[] }>(await dataDirOf(values, io.env), "ListPreauthorizations", {});
    const wide = values.output === "wide";
    emit(io, Boolean(values.json), list, () =>
      list.length === 0
        ? "no preauthorizations\n"
        : table(
            ["DEVICE", "NAME", "ROLE", "EXPIRES", "USED", ...(wide ? ["CREATED", "IDENTITY KEY"] : [])],
            list.map((p) => [
              p.deviceId,
              p.name || "-",
              p.role,
              isoTime(p.expiresAt),
              p.usedAt ? `${isoTime(p.usedAt)} (${p.requestId})` : "-",
              ...(wide ? [isoTime(p.createdAt), p.identityKey] : []),
            ]),
          ),
    );
    return Exit.Ok;
  },
};

export const devicesUnpreauthorizeCommand: Command = {
  name: "devices unpreauthorize",
  summary: "withdraw a preauthorization",
  args: [{ name: "DEVICE_ID", about: "the preauthorized device id (dev_…, from tether devices preauthorizations)", complete: "preauthorized" }],
  help: "Withdraws the preauthorization of DEVICE_ID; it will need an admin's approval again.",
  examples: ["tether devices unpreauthorize dev_4bzq3hh3tg2l6xyndziosfoxjw"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const id = positionals[0] as string;
    const p = await admin<Pre>(await dataDirOf(values, io.env), "RevokePreauthorization", { deviceId: id });
    emit(io, Boolean(values.json), p, () => `withdrew the preauthorization of ${id}\n`);
    return Exit.Ok;
  },
};
