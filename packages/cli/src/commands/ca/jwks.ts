/** tether ca jwks: print the token verification keys. */
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf } from "../../cli.js";

export const caJwksCommand: Command = {
  name: "ca jwks",
  summary: "print the keys that verify device tokens (JWKS)",
  args: [],
  help: `Prints the daemon's token verification keys as a JWKS document (RFC 7517). Services
that receive device tokens (from the SDK's issueToken) verify them with it, e.g. with the
SDK's verifyToken(token, jwks, { audience, now }). Tokens are JWTs signed with EdDSA
(Ed25519); their claims are listed in docs/fleet.md. The output is JSON with or without --json.`,
  examples: ["tether ca jwks > /etc/myservice/tether-jwks.json"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const r = await admin<{ json: string }>(await dataDirOf(values, io.env), "GetJwks", {});
    io.out(`${JSON.stringify(JSON.parse(r.json), null, 2)}\n`);
    return Exit.Ok;
  },
};
