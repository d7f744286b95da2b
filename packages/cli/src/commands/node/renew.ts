/** tether node renew: renew this device's certificate now, when it is due, or when the admin asked; optionally run a hook after. */
import type { Command } from "../../cli.js";
import { CliError, DAEMON_ADDRESS_OPTION, Exit, NODE_STATE_DIR_OPTION, emit, isoTime, str } from "../../cli.js";
import { renewHookEnv, runHook } from "./hook.js";

const REASONS = { forced: "--force", due: "past half its lifetime", rotation: "the admin asked for a rotation", returned: "it had expired: returned by the identity key" } as const;

export const nodeRenewCommand: Command = {
  name: "node renew",
  summary: "renew this device's certificate (when past half its lifetime or asked by the admin, or now with --force)",
  args: [],
  help: `Renews the certificate of the device paired in the state directory, over mutual TLS
with its current certificate, signed by its identity key. By default it makes a new TLS
key and renews once half of the certificate's lifetime has passed, or earlier when the
daemon says an admin asked for a rotation (tether devices rotate).

--exec COMMAND runs after a renewal, once the new files are in place, with /bin/sh, so
that another program using this certificate reloads it. It gets TETHER_TLS_BUNDLE,
TETHER_TLS_CERT, TETHER_TLS_KEY, TETHER_TLS_CA, TETHER_STATE_DIR, TETHER_DEVICE_ID,
TETHER_CERT_FINGERPRINT and TETHER_CERT_NOT_AFTER(_MS). Its failure is reported (exit 1)
but the renewal stands. The previous certificate stays accepted for 2 minutes: reload
within that time (docs/clients.md).

\`tether node run\` renews by itself. Devices that only make calls renew when they are
used (\`tether dispatch --state-dir\` does it first). A device used less often than half
its certificate lifetime (12 hours by default) can run this from a timer, e.g. hourly.
An expired certificate cannot renew itself; the device returns instead, by its
identity key (docs/fleet.md §5A.5): within the daemon's --return-grace (30 days by
default) it gets a new certificate at once; later, it waits for an admin to approve
its return (it prints the verification code to compare; tether pair list shows the
request). Exit 8 when the daemon refuses it (a revoked device never returns), 9 when
another process is renewing the same state directory at that moment.`,
  examples: ["tether node renew --state-dir /var/lib/tether-orchestrator --exec 'systemctl reload my-orchestrator'   # hourly, from a timer", "tether node renew --force --json"],
  options: {
    force: { type: "boolean", about: "renew now, even before half the lifetime has passed" },
    "keep-key": { type: "boolean", about: "keep the current TLS key instead of making a new one" },
    exec: { type: "string", value: "COMMAND", about: "after a renewal, run COMMAND with /bin/sh (TETHER_TLS_* set) so another program reloads" },
    ...NODE_STATE_DIR_OPTION,
    ...DAEMON_ADDRESS_OPTION,
  },
  async run({ values, io }) {
    const { NodeError, certificateExpired, defaultStateDir, loadCredentials, renewIfDue, returnDevice } = await import("@tether/node");
    const dir = str(values["state-dir"]) ?? defaultStateDir(io.env);
    const hook = str(values.exec);
    if (hook !== undefined && !hook.trim()) throw new CliError(Exit.Usage, "--exec needs a COMMAND");
    let r;
    try {
      let expired = false;
      try {
        expired = certificateExpired(loadCredentials(dir).certPem);
      } catch {
        // an unreadable state directory: renewIfDue says what is wrong with it
      }
      if (expired) {
        const back = await returnDevice(dir, {
          ...(str(values.daemon) ? { daemon: str(values.daemon) as string } : {}),
          onVerificationCode: (code, info) =>
            io.err(
              `tether: the certificate expired past the daemon's return grace (or the admin asked to approve returns): waiting for an admin to approve (request ${info.requestId}); verification code ${code}\n`,
            ),
        });
        r = { ...back, reason: "returned" as const };
      } else
        r = await renewIfDue(dir, {
          checkRotation: true,
          ...(str(values.daemon) ? { daemon: str(values.daemon) as string } : {}),
          ...(values.force ? { force: true } : {}),
          ...(values["keep-key"] ? { rekey: false } : {}),
        });
    } catch (err) {
      if (!(err instanceof NodeError)) throw err;
      const exit = { STATE_DIR: Exit.Usage, UNREACHABLE: Exit.Unreachable, BUSY: Exit.Busy }[err.code as string] ?? Exit.AuthFailed;
      throw new CliError(exit, err.message, { cause: err });
    }
    if (!r) {
      emit(
        io,
        Boolean(values.json),
        { renewed: false },
        () => "not due yet (less than half of the certificate's lifetime has passed, and no rotation was asked for); use --force to renew now\n",
      );
      return Exit.Ok;
    }
    const ran = hook === undefined ? undefined : await runHook(hook, await renewHookEnv(dir, r.deviceId, r.certPem));
    const out = {
      renewed: true,
      reason: r.reason,
      notAfter: isoTime(r.notAfter),
      fingerprint: r.fingerprint,
      ...(ran ? { hook: ran } : {}),
    };
    emit(io, Boolean(values.json), out, () => `renewed (${REASONS[r.reason]}): certificate ${r.fingerprint} valid until ${isoTime(r.notAfter)}\n${ran?.ok ? "hook: ran\n" : ""}`);
    if (ran && !ran.ok) {
      io.err(`tether: the certificate was renewed and saved, but the --exec hook failed: ${ran.error}\n`);
      return Exit.Failure;
    }
    return Exit.Ok;
  },
};
