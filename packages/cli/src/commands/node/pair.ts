/** tether node pair: pair this machine with a daemon using a PIN, a URI or a QR image. */
import { visibleJson } from "@tether/base";
import type { Command } from "../../cli.js";
import { CliError, Exit, NODE_STATE_DIR_OPTION, emit, selfCommand, str, tty, usageError } from "../../cli.js";
import { readQrImage } from "../../qr.js";

const EXIT_FOR: Record<string, number> = {
  BAD_INPUT: Exit.Usage,
  CODE_EXPIRED: Exit.Expired,
  CODE_UNUSABLE: Exit.Conflict,
  REVOKED: Exit.AuthFailed,
  EXPIRED: Exit.Expired,
  REJECTED: Exit.Rejected,
  WRONG_CODE: Exit.AuthFailed,
  CA_PIN_MISMATCH: Exit.AuthFailed,
  BAD_DAEMON_SIGNATURE: Exit.AuthFailed,
  BAD_CERTIFICATE: Exit.AuthFailed,
  UNREACHABLE: Exit.Unreachable,
  STATE_DIR: Exit.Failure,
  DAEMON_REFUSED: Exit.Failure,
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export const nodePairCommand: Command = {
  name: "node pair",
  summary: "pair this machine with a daemon (PIN, URI or QR image) and wait for approval",
  args: [],
  synopsis: "(--pin PIN --daemon HOST:PORT | --uri URI | --qr-image FILE)",
  help: `Runs the pairing handshake with the daemon, prints a verification code, and
waits until an admin approves (or rejects) the request. On approval it stores in
the state directory:
  identity.json  this node's Ed25519 identity key (made on first use, mode 0600)
  tls.key        this node's TLS private key (made here, never sent, mode 0600)
  cert.pem       the certificate the daemon's CA issued for tls.key
  ca.pem         the daemon's CA certificate, learned through the handshake
  node.json      the daemon's address, the device id and the granted role

Give exactly one of --pin (with --daemon), --uri or --qr-image. Tell the admin the
verification code: the admin approves with \`tether pair approve --code CODE\`, which
approves only a request with that code.

Exit codes: 0 paired, 6 rejected, 7 request or code expired, 5 code already used,
burned or unknown, 8 wrong code, daemon not authentic or device revoked,
3 daemon unreachable, 2 bad usage, 1 anything else.`,
  examples: [
    "tether node pair --daemon 10.0.0.5:7443 --pin 123-4567-8901 --name rack7",
    "tether node pair --qr-image code.png --role orchestrator --state-dir /var/lib/tether-orchestrator",
    'echo "$PIN" | tether node pair --daemon tether.lan:7443 --pin -   # keeps the PIN out of the process list',
  ],
  options: {
    pin: { type: "string", value: "PIN", about: "the PIN from tether pair code --method pin (needs --daemon); - reads it from stdin", default: "none" },
    uri: {
      type: "string",
      value: "URI",
      about: "the tether:// URI from a QR code (carries the address and the CA\nfingerprint, which is checked); - reads it from stdin",
      default: "none",
    },
    "qr-image": { type: "string", value: "FILE", about: "a PNG of the QR code, or a JPEG photo of it (decoded here)", default: "none", complete: "files" },
    daemon: { type: "string", value: "HOST:PORT", about: "the daemon's node listener (overrides the URI's address)", default: "the URI's address" },
    name: { type: "string", value: "NAME", about: "how admins will see this node", default: "the host name" },
    role: { type: "string", choices: ["node", "orchestrator"], about: "the role to ask for; the admin may change it", default: "node" },
    ...NODE_STATE_DIR_OPTION,
  },
  async run({ values, io }) {
    const given = ["pin", "uri", "qr-image"].filter((k) => values[k] !== undefined);
    if (given.length !== 1) throw usageError(this, "give exactly one of --pin, --uri or --qr-image");
    // "-" reads the code from stdin, so it does not show in the process list.
    const fromStdin = async (v: string | undefined) => (v === "-" ? (await readStdin()).trim() : v);
    const { NodeError, defaultStateDir, pair } = await import("@tether/node");
    const uri = str(values["qr-image"]) ? await readQrImage(str(values["qr-image"]) as string) : await fromStdin(str(values.uri));
    const pin = await fromStdin(str(values.pin));
    const role = (str(values.role) ?? "node") as "node" | "orchestrator";
    const stateDir = str(values["state-dir"]) ?? defaultStateDir(io.env);
    const json = Boolean(values.json);
    try {
      const r = await pair({
        ...(str(values.daemon) ? { daemon: str(values.daemon) as string } : {}),
        ...(pin !== undefined ? { pin } : {}),
        ...(uri !== undefined ? { uri } : {}),
        name: str(values.name) ?? (await import("node:os")).hostname(),
        role,
        stateDir,
        onVerificationCode: (code, info) => {
          // What the daemon sent, shown inert (it is authenticated only once the code checks out).
          if (json) io.err(`${visibleJson({ event: "awaiting_approval", verificationCode: code, ...info })}\n`);
          else {
            io.err(
              tty`verification code: ${code}\nrequest ${info.requestId} for device ${info.deviceId} is waiting for an admin, who checks this code and approves with:\n` +
                tty`  ${selfCommand(io.env)} pair approve --code ${code}\n`,
            );
          }
        },
      });
      const out = {
        deviceId: r.deviceId,
        requestId: r.requestId,
        role: r.role,
        daemon: r.daemon,
        caFingerprint: r.caFingerprint,
        verificationCode: r.verificationCode,
        certificateNotAfter: new Date(r.certificateNotAfter).toISOString(),
        stateDir,
      };
      emit(
        io,
        json,
        out,
        () =>
          tty`paired: device ${r.deviceId} as ${r.role}\n  certificate: ${stateDir}/cert.pem (until ${out.certificateNotAfter})\n  CA:          ${stateDir}/ca.pem (sha256 ${r.caFingerprint})\n`,
      );
      return Exit.Ok;
    } catch (err) {
      if (err instanceof NodeError) throw new CliError(EXIT_FOR[err.code] ?? Exit.Failure, err.message, { cause: err });
      throw err;
    }
  },
};
