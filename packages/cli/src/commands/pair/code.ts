/** tether pair code: mint a single-use pairing code (PIN or QR). */
import { writeFileAtomic } from "@tether/base";
import type { CreateCodeResponse, StatusResponse } from "@tether/wire";
import type { Command } from "../../cli.js";
import { CliError, DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime, selfCommand, shellWord, str } from "../../cli.js";
import { DEFAULT_PNG_SCALE, MAX_PNG_SCALE, MIN_PNG_SCALE, qrPng, qrSvg, qrTerminal } from "../../qr.js";

/** --scale: PNG pixels per module, a whole number in range; the default when not given. */
function pngScale(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PNG_SCALE;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= MIN_PNG_SCALE && n <= MAX_PNG_SCALE)) {
    throw new CliError(Exit.Usage, `--scale must be a whole number of pixels per module, from ${MIN_PNG_SCALE} to ${MAX_PNG_SCALE}`);
  }
  return n;
}

/** The command a node runs to join with this code: `tether node pair` and its arguments, quoted for a shell. */
function joinCommand(tether: string, args: string[]): string {
  return `${tether} node pair ${args.map(shellWord).join(" ")}`;
}

/** The most devices one code may pair (MAX_CODE_USES in @tether/pairing, which the CLI does not depend on; the daemon checks it too). */
const MAX_USES = 1000;

function usesWords(uses: number): string {
  return uses > 1 ? `up to ${uses} devices` : "single use";
}

/** What the code grants, as lines under its expiry (none for a plain code). */
function policyLines(r: CreateCodeResponse): string {
  const lines: string[] = [];
  if (r.role) lines.push(`  role:    ${r.role} (granted at approval)`);
  const labels = Object.entries(r.labels ?? {});
  if (labels.length) lines.push(`  labels:  ${labels.map(([k, v]) => `${k}=${v}`).join(" ")}`);
  if (r.approve) lines.push("  approval: at once, when the handshake finishes (no one compares verification codes)");
  return lines.map((l) => `${l}\n`).join("");
}

/** A note when the advertised address is a loopback one: it reaches this machine only. */
function loopbackNote(advertise: string): string {
  return /^(127\.|\[::1\]|localhost:)/.test(advertise) ? `  (${advertise} reaches this machine only: for other machines, start the daemon with --advertise HOST:PORT)\n` : "";
}

export const pairCodeCommand: Command = {
  name: "pair code",
  summary: "mint a short-lived pairing code (PIN or QR), single use unless --uses says more",
  args: [],
  help: `Mints a pairing code. Give it to exactly one node; it works once (with
--uses N, for N nodes). It prints the command the node runs to join, with the
daemon's advertised address.

  pin  an 11-digit PIN, SSS-PPPP-PPPP: the first 3 digits name the code (not
       secret), the last 8 are the secret. For typing on a node:
         tether node pair --daemon HOST:PORT --pin 123-4567-8901
  qr   a tether:// URI with the daemon's address, its CA fingerprint, a 128-bit
       secret and the expiry, shown as a QR code. For scanning:
         tether node pair --uri 'tether://...'   or   --qr-image FILE
       (FILE: a --png file, or a JPEG photo of the code). The code is drawn
       last, in light blocks for a dark terminal; on a light background it
       shows inverted: use --png or --svg there. With --png, --scale sets the
       pixels per module (for a label: at 300 dpi, 12 gives 1 mm modules).

The daemon stores only a hash of the code and shows it this one time. A code is
burned after 5 handshakes that did not complete. Afterwards run \`tether pair list\`
to see the node's request and its verification code.

A code can carry what the admin decides now (docs/operations.md, "Codes that
carry their policy"): --role and --label are granted when its requests are
approved (an approver who gives a role still decides); --approve approves each
request as soon as its handshake finishes, with no one comparing verification
codes, as a Kubernetes bootstrap token does: anyone holding the code within
its lifetime gets a certificate, so keep it short-lived and use it where you
trust the network; --uses N lets N devices pair with it within its lifetime (a
batch of machines).`,
  examples: [
    "tether pair code --method pin",
    "tether pair code --method qr --ttl 600 --png /tmp/code.png   # a QR code to show on a screen",
    "tether pair code --method qr --png label.png --scale 12   # 1 mm modules at 300 dpi",
    "tether pair code --method pin --label site=berlin --label rack=7   # labels the node gets when approved",
    "tether pair code --method pin --approve --uses 20 --ttl 900 --label site=berlin   # 20 machines, no approver",
  ],
  options: {
    method: { type: "string", required: true, choices: ["pin", "qr"], about: "a PIN to type, or a QR code (a tether:// URI) to scan" },
    ttl: { type: "string", value: "SECONDS", about: "the code's lifetime, 10..3600 seconds", default: "300" },
    png: { type: "string", value: "FILE", about: "with --method qr: also write the QR code as a PNG (mode 0600: it holds the secret)", complete: "files" },
    svg: { type: "string", value: "FILE", about: "with --method qr: also write the QR code as an SVG (mode 0600)", complete: "files" },
    scale: { type: "string", value: "N", about: `with --png: pixels per module, ${MIN_PNG_SCALE}..${MAX_PNG_SCALE}`, default: String(DEFAULT_PNG_SCALE) },
    role: { type: "string", choices: ["node", "orchestrator"], about: "the role granted at approval (else the one the node asks for)" },
    label: { type: "string", multiple: true, value: "KEY=VALUE", about: "a label set on the device at approval (repeat for more)", default: "none" },
    approve: { type: "boolean", about: "approve each request made with the code at once, without an admin" },
    uses: { type: "string", value: "N", about: `devices that may pair with the code, 1..${MAX_USES}`, default: "1" },
    ...DATA_DIR_OPTION,
  },
  async run({ values, io }) {
    const method = str(values.method) as "pin" | "qr";
    const ttlText = str(values.ttl);
    if (ttlText !== undefined && !/^\d+$/.test(ttlText)) throw new CliError(Exit.Usage, "--ttl must be a whole number of seconds");
    const ttl = ttlText === undefined ? 0 : Number(ttlText);
    if (ttlText !== undefined && (ttl < 10 || ttl > 3600)) throw new CliError(Exit.Usage, "--ttl must be between 10 and 3600 seconds");
    if ((values.png || values.svg) && method !== "qr") throw new CliError(Exit.Usage, "--png and --svg need --method qr");
    if (values.scale !== undefined && !values.png) throw new CliError(Exit.Usage, "--scale needs --png");
    const scale = pngScale(str(values.scale));
    const usesText = str(values.uses);
    if (usesText !== undefined && !(/^\d+$/.test(usesText) && Number(usesText) >= 1 && Number(usesText) <= MAX_USES)) {
      throw new CliError(Exit.Usage, `--uses must be a whole number of devices, from 1 to ${MAX_USES}`);
    }
    const uses = usesText === undefined ? 1 : Number(usesText);
    const labels: Record<string, string> = {};
    for (const p of (values.label as string[] | undefined) ?? []) {
      const eq = p.indexOf("=");
      if (eq < 1) throw new CliError(Exit.Usage, `--label ${JSON.stringify(p)} is not KEY=VALUE`);
      labels[p.slice(0, eq)] = p.slice(eq + 1);
    }
    const role = str(values.role) ?? "";
    const dataDir = await dataDirOf(values, io.env);
    const { advertise } = await admin<StatusResponse>(dataDir, "Status", {});
    const r = await admin<CreateCodeResponse>(dataDir, "CreateCode", { method, ttlSeconds: ttl, role, labels, approve: Boolean(values.approve), uses });
    // The images hold the secret: written atomically with mode 0600 from the first byte.
    const png = str(values.png);
    const svg = str(values.svg);
    if (png) writeFileAtomic(png, await qrPng(r.code, scale), 0o600);
    if (svg) writeFileAtomic(svg, await qrSvg(r.code), 0o600);
    const tether = selfCommand(io.env);
    // The URI carries the daemon's address; a PIN needs it given (the advertised one).
    const join = method === "pin" ? joinCommand(tether, ["--daemon", advertise || "HOST:PORT", "--pin", r.code]) : joinCommand(tether, ["--uri", r.code]);
    const joinQrImage = method === "qr" ? joinCommand(tether, ["--qr-image", png ?? "FILE"]) : undefined;
    const out = {
      id: r.id,
      method: r.method,
      code: r.code,
      expiresAt: new Date(r.expiresAt).toISOString(),
      join,
      ...(png && joinQrImage ? { joinQrImage } : {}),
      // A code with a policy says what it grants; a plain one keeps the fields it always had.
      ...(r.role || Object.keys(r.labels ?? {}).length || r.approve || r.uses > 1 ? { role: r.role, labels: r.labels ?? {}, approve: r.approve, uses: r.uses } : {}),
    };
    const policy = policyLines(r);
    // The code comes last, so that it is what stays on the screen.
    emit(io, Boolean(values.json), out, () =>
      method === "pin"
        ? `PIN: ${r.code}\n  expires: ${isoTime(r.expiresAt)} (${usesWords(r.uses)})\n${policy}On the node, run:\n  ${join}\n${loopbackNote(advertise)}`
        : `URI: ${r.code}\n  expires: ${isoTime(r.expiresAt)} (${usesWords(r.uses)})\n${policy}On the node, run:\n  ${join}\nor, with the code as an image (a PNG${png ? "" : " from --png FILE"}, or a JPEG photo of it):\n  ${joinQrImage}\n${loopbackNote(advertise)}\n${qrTerminal(r.code)}`,
    );
    return Exit.Ok;
  },
};
