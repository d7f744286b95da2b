/** tether console: a one-time login link to the daemon's web console (docs/console.md). */
import type { Command } from "../cli.js";
import { DATA_DIR_OPTION, Exit, admin, dataDirOf, emit, isoTime } from "../cli.js";

export const consoleCommand: Command = {
  name: "console",
  summary: "print a one-time login link to the daemon's web console",
  args: [],
  help: `Asks the daemon over its admin socket for its web console, starting it if it is
not running, and prints a login link. Open it in a browser on this machine: it
works once, within 2 minutes, and logs that browser in for up to 12 hours (an
hour idle). Run the command again for another browser or when it has expired.

The console listens on loopback (tether daemon --console, default 127.0.0.1 on a
free port); anywhere else only over HTTPS, with the daemon's server certificate.
Its pages: pending requests (live, with each verification code to compare with
the device's), minting a PIN or QR code, devices, jobs and the audit log. Every
button is the admin call the matching tether command makes.

The link carries the login token: do not paste it where others can read it.`,
  examples: ["tether console", 'tether console --json   # {"url": ..., "expiresAt": ...}'],
  options: { ...DATA_DIR_OPTION },
  async run({ values, io }) {
    const r = await admin<{ url: string; expiresAt: number }>(await dataDirOf(values, io.env), "OpenConsole", {});
    emit(
      io,
      Boolean(values.json),
      { url: r.url, expiresAt: r.expiresAt },
      () => `Open this link in a browser on this machine (it works once, until ${isoTime(r.expiresAt)}):\n\n  ${r.url}\n`,
    );
    return Exit.Ok;
  },
};
