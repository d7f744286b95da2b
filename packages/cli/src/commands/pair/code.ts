/** tether pair code: mint a single-use pairing code (PIN or QR). */
import { writeFileAtomic } from "@tether/base";
import QRCode from "qrcode";
import type { CreateCodeResponse, StatusResponse } from "@tether/wire";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime, selfCommand, shellWord, str } from "../../cli.js";

/** The command a node runs to join with this code: `tether node pair` and its arguments, quoted for a shell. */
function joinCommand(tether: string, args: string[]): string {
  return `${tether} node pair ${args.map(shellWord).join(" ")}`;
}

/** A note when the advertised address is a loopback one: it reaches this machine only. */
function loopbackNote(advertise: string): string {
  return /^(127\.|\[::1\]|localhost:)/.test(advertise)
    ? `  (${advertise} reaches this machine only: for other machines, start the daemon with --advertise HOST:PORT)\n`
    : "";
}

export const pairCodeCommand: Command = {
  name: "pair code",
  summary: "mint a short-lived, single-use pairing code (PIN or QR)",
  usage: "tether pair code --method pin|qr [--ttl SECONDS] [--png FILE] [--svg FILE] [--data-dir DIR] [--json]",
  help: `Mints a pairing code. Give it to exactly one node; it works once. It prints
the command the node runs to join, with the daemon's advertised address.

  --method pin   an 11-digit PIN, SSS-PPPP-PPPP: the first 3 digits name the code
                 (not secret), the last 8 are the secret. For typing on a node:
                   tether node pair --daemon HOST:PORT --pin 123-4567-8901
  --method qr    a tether:// URI with the daemon's address, its CA fingerprint,
                 a 128-bit secret and the expiry, shown as a QR code. For scanning:
                   tether node pair --uri 'tether://...'   or   --qr-image code.png
  --ttl SECONDS  lifetime, default 300, at least 10, at most 3600
  --png FILE / --svg FILE   also write the QR code as an image (mode 0600: it
                 holds the secret)

The daemon stores only a hash of the code and shows it this one time. A code is
burned after 5 handshakes that did not complete. Afterwards run \`tether pair list\`
to see the node's request and its verification code.`,
  options: { ...DATA_DIR_OPTION, method: { type: "string" }, ttl: { type: "string" }, png: { type: "string" }, svg: { type: "string" } },
  async run({ values, io }) {
    const method = str(values.method);
    if (method !== "pin" && method !== "qr") throw new CliError(Exit.Usage, "--method must be pin or qr");
    const ttlText = str(values.ttl);
    if (ttlText !== undefined && !/^\d+$/.test(ttlText)) throw new CliError(Exit.Usage, "--ttl must be a whole number of seconds");
    const ttl = ttlText === undefined ? 0 : Number(ttlText);
    if (ttlText !== undefined && (ttl < 10 || ttl > 3600)) throw new CliError(Exit.Usage, "--ttl must be between 10 and 3600 seconds");
    if ((values.png || values.svg) && method !== "qr") throw new CliError(Exit.Usage, "--png and --svg need --method qr");
    const dataDir = await dataDirOf(values, io.env);
    const { advertise } = await admin<StatusResponse>(dataDir, "Status", {});
    const r = await admin<CreateCodeResponse>(dataDir, "CreateCode", { method, ttlSeconds: ttl });
    // The images hold the secret: written atomically with mode 0600 from the first byte.
    const png = str(values.png);
    const svg = str(values.svg);
    if (png) writeFileAtomic(png, await QRCode.toBuffer(r.code, { type: "png", errorCorrectionLevel: "M", margin: 2 }), 0o600);
    if (svg) writeFileAtomic(svg, await QRCode.toString(r.code, { type: "svg", errorCorrectionLevel: "M" }), 0o600);
    const tether = selfCommand(io.env);
    // The URI carries the daemon's address; a PIN needs it given (the advertised one).
    const join = method === "pin" ? joinCommand(tether, ["--daemon", advertise || "HOST:PORT", "--pin", r.code]) : joinCommand(tether, ["--uri", r.code]);
    const joinQrImage = method === "qr" ? joinCommand(tether, ["--qr-image", png ?? "FILE.png"]) : undefined;
    const out = {
      id: r.id,
      method: r.method,
      code: r.code,
      expiresAt: new Date(r.expiresAt).toISOString(),
      join,
      ...(png && joinQrImage ? { joinQrImage } : {}),
    };
    let qr = "";
    if (method === "qr" && !values.json) qr = await QRCode.toString(r.code, { type: "terminal", small: true, errorCorrectionLevel: "M" });
    emit(io, Boolean(values.json), out, () =>
      method === "pin"
        ? `PIN: ${r.code}\n  expires: ${isoTime(r.expiresAt)} (single use)\nOn the node, run:\n  ${join}\n${loopbackNote(advertise)}`
        : `${qr}\nURI: ${r.code}\n  expires: ${isoTime(r.expiresAt)} (single use)\nOn the node, run:\n  ${join}\nor, with the QR code saved as a PNG image${png ? "" : " (--png FILE writes one)"}:\n  ${joinQrImage}\n${loopbackNote(advertise)}`,
    );
    return Exit.Ok;
  },
};
