/**
 * tether version: this CLI's version, the protocol versions it speaks, and the daemon's
 * version. `tether --version` is this CLI's version alone.
 */
import type { StatusResponse } from "@tether/wire";
import { ADMIN_SOCKET_NAME, API_PACKAGE } from "@tether/wire";
import { join } from "node:path";
import type { Command, Io, Values } from "../cli.js";
import { CLI_VERSION, CliError, DATA_DIR_OPTION, Exit, dataDirOf, emit, rpc } from "../cli.js";

/** How long `tether version` waits for the daemon before saying it is not reachable. */
export const VERSION_DAEMON_TIMEOUT_MS = 2_000;

export type VersionInfo = {
  cli: string;
  protocol: { api: string; pairing: number; pairingUri: string };
  /** null when no daemon answered on the admin socket */
  daemon: { version: string; socket: string } | null;
  /** why there is no daemon version */
  daemonError?: string;
};

/** The versions, asking the daemon (briefly) over its admin socket; never fails for want of one. */
export async function versionInfo(values: Values, env: NodeJS.ProcessEnv): Promise<VersionInfo> {
  const dataDir = await dataDirOf(values, env);
  const socket = join(dataDir, ADMIN_SOCKET_NAME);
  const { PAIRING_URI_VERSION, PAIR_PROTOCOL_VERSION } = await import("@tether/crypto");
  const base = { cli: CLI_VERSION, protocol: { api: API_PACKAGE, pairing: PAIR_PROTOCOL_VERSION, pairingUri: PAIRING_URI_VERSION } };
  try {
    const s = await rpc<StatusResponse>("Admin", { kind: "socket", dataDir }, "Status", {}, VERSION_DAEMON_TIMEOUT_MS);
    return { ...base, daemon: { version: s.version, socket } };
  } catch (err) {
    return { ...base, daemon: null, daemonError: err instanceof CliError ? err.message : String(err) };
  }
}

export async function printVersion(values: Values, io: Io): Promise<number> {
  const v = await versionInfo(values, io.env);
  emit(io, Boolean(values.json), v, () =>
    [
      `tether ${v.cli}`,
      `  protocol: ${v.protocol.api} (gRPC API), pairing handshake ${v.protocol.pairing}, pairing URI ${v.protocol.pairingUri}`,
      `  daemon:   ${v.daemon ? `${v.daemon.version} (${v.daemon.socket})` : `not reachable (${v.daemonError ?? "no answer"})`}`,
      "",
    ].join("\n"),
  );
  return Exit.Ok;
}

/**
 * `tether --version [--json]`: this CLI's version and nothing else. It asks no daemon and loads
 * no dependency, so that it answers at once (docs/benchmarks.md, "CLI start-up");
 * `tether version` is the command that asks the daemon.
 */
export function printCliVersion(rest: string[], io: Io): number {
  const json = rest.length === 1 && rest[0] === "--json";
  if (rest.length > (json ? 1 : 0)) {
    throw new CliError(
      Exit.Usage,
      `tether --version takes only --json (got ${JSON.stringify(rest.find((a) => a !== "--json") ?? rest[0])})\nfor the protocol versions and the daemon's version: tether version [--data-dir DIR]`,
    );
  }
  emit(io, json, { cli: CLI_VERSION }, () => `tether ${CLI_VERSION}\n`);
  return Exit.Ok;
}

export const versionCommand: Command = {
  name: "version",
  summary: "print the CLI's version, the protocol versions and the running daemon's version",
  args: [],
  help: `Prints this CLI's version, the protocol versions it speaks (the gRPC API package,
the pairing handshake and the pairing URI), and the version of the daemon whose admin
socket answers on the data directory (waiting at most ${VERSION_DAEMON_TIMEOUT_MS / 1000} s). With no daemon it says
why and still exits 0. \`tether --version\` prints this CLI's version alone (\`tether ${CLI_VERSION}\`, or
{"cli": "${CLI_VERSION}"} with --json), at once and without asking the daemon.`,
  examples: ["tether version", "tether version --data-dir /var/lib/tether --json"],
  options: { ...DATA_DIR_OPTION },
  run: ({ values, io }) => printVersion(values, io),
};
