/** tether ca verify: ask the authority about a certificate. */
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit } from "../../cli.js";

export const caVerifyCommand: Command = {
  name: "ca verify",
  summary: "ask the daemon whether a certificate is valid, revoked, expired or unknown",
  args: [{ name: "CERT", about: "a certificate file, PEM or DER", complete: "files" }],
  help: `Asks the authority about a certificate (PEM or DER): "valid" (a current certificate of
a device that is not revoked), "revoked" (on the CRL), "expired", or "unknown" (not issued by
this CA, or replaced by a newer one). Exit 0 only for valid, 8 otherwise.`,
  examples: ["tether ca verify /var/lib/tether-node/cert.pem --json"],
  options: { ...DATA_DIR_OPTION },
  async run({ values, positionals, io }) {
    const file = positionals[0] as string;
    let der: Buffer;
    try {
      der = new X509Certificate(readFileSync(file)).raw;
    } catch (cause) {
      throw new CliError(Exit.Usage, `${file}: not a readable certificate`, { cause });
    }
    const r = await admin<{ status: string; deviceId: string; role: string; reason: string }>(await dataDirOf(values, io.env), "Verify", { certificate: der });
    emit(io, Boolean(values.json), r, () => `${r.status}${r.deviceId ? ` (${r.deviceId}${r.role ? `, ${r.role}` : ""})` : ""}${r.reason ? `: ${r.reason}` : ""}\n`);
    return r.status === "valid" ? Exit.Ok : Exit.AuthFailed;
  },
};
