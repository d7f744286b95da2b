/** tether ca crl: export the CA's current signed CRL. */
import { writeFileAtomic } from "@tether/base";
import type { Command } from "../../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime, str } from "../../cli.js";

export const caCrlCommand: Command = {
  name: "ca crl",
  summary: "export the CA's signed certificate revocation list (CRL)",
  args: [],
  help: `Writes the daemon's current CRL, signed by its CA, to FILE (PEM, or DER with --der).
It is regenerated on every revocation and at least daily, and valid for 7 days. Tools
outside tether can check certificates against it.`,
  examples: ["tether ca crl --out crl.pem && openssl verify -crl_check -CAfile ca.pem -CRLfile crl.pem cert.pem"],
  options: {
    out: { type: "string", required: true, value: "FILE", about: "where to write the CRL", complete: "files" },
    der: { type: "boolean", about: "write DER instead of PEM" },
    ...DATA_DIR_OPTION,
  },
  async run({ values, io }) {
    const out = str(values.out) as string;
    const c = await admin<{ crl: Uint8Array; thisUpdate: number; nextUpdate: number }>(await dataDirOf(values, io.env), "GetCrl", {});
    const der = Buffer.from(c.crl);
    const body = values.der
      ? der
      : `-----BEGIN X509 CRL-----\n${der
          .toString("base64")
          .replace(/(.{64})/g, "$1\n")
          .replace(/\n$/, "")}\n-----END X509 CRL-----\n`;
    writeFileAtomic(out, body, 0o644);
    emit(io, Boolean(values.json), { out, thisUpdate: isoTime(c.thisUpdate), nextUpdate: isoTime(c.nextUpdate) }, () => `wrote ${out} (next update ${isoTime(c.nextUpdate)})\n`);
    return Exit.Ok;
  },
};
