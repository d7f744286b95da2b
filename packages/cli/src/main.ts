/** tether's command line: finds the command, parses its flags, prints help and errors. */
import type { Command, Io } from "./cli.js";
import { visibleJson } from "@tether/base";
import { CliError, Exit, inert, parse } from "./cli.js";
import { daemonCommand } from "./commands/daemon.js";
import { devicesListCommand } from "./commands/devices/list.js";
import { devicesShowCommand } from "./commands/devices/show.js";
import { nodePairCommand } from "./commands/node/pair.js";
import { pairApproveCommand } from "./commands/pair/approve.js";
import { pairCodeCommand } from "./commands/pair/code.js";
import { pairListCommand } from "./commands/pair/list.js";
import { pairRejectCommand } from "./commands/pair/reject.js";
import { statusCommand } from "./commands/status.js";
import { dispatchCommand } from "./commands/dispatch.js";
import { auditListCommand } from "./commands/audit/list.js";
import { caCrlCommand } from "./commands/ca/crl.js";
import { caInitCommand } from "./commands/ca/init.js";
import { caVerifyCommand } from "./commands/ca/verify.js";
import { caJwksCommand } from "./commands/ca/jwks.js";
import { caRotateCommand } from "./commands/ca/rotate.js";
import { auditVerifyCommand } from "./commands/audit/verify.js";
import { devicesRevokeCommand } from "./commands/devices/revoke.js";
import { devicesUnrevokeCommand } from "./commands/devices/unrevoke.js";
import { devicesRotateCommand } from "./commands/devices/rotate.js";
import { devicesPreauthorizationsCommand, devicesPreauthorizeCommand, devicesUnpreauthorizeCommand } from "./commands/devices/preauthorize.js";
import { nodeIdentityCommand } from "./commands/node/identity.js";
import { devicesLabelCommand } from "./commands/devices/label.js";
import { devicesGrantCommand, devicesUngrantCommand } from "./commands/devices/grant.js";
import { jobsCancelCommand } from "./commands/jobs/cancel.js";
import { jobsListCommand } from "./commands/jobs/list.js";
import { jobsShowCommand } from "./commands/jobs/show.js";
import { nodeRunCommand } from "./commands/node/run.js";
import { nodeRenewCommand } from "./commands/node/renew.js";
import { storeCheckCommand } from "./commands/store/check.js";
import { storeRepairCommand } from "./commands/store/repair.js";

export const COMMANDS: readonly Command[] = [
  daemonCommand,
  statusCommand,
  pairCodeCommand,
  pairListCommand,
  pairApproveCommand,
  pairRejectCommand,
  devicesListCommand,
  devicesShowCommand,
  devicesRevokeCommand,
  devicesUnrevokeCommand,
  devicesRotateCommand,
  devicesLabelCommand,
  devicesGrantCommand,
  devicesUngrantCommand,
  devicesPreauthorizeCommand,
  devicesPreauthorizationsCommand,
  devicesUnpreauthorizeCommand,
  nodeIdentityCommand,
  nodePairCommand,
  nodeRunCommand,
  nodeRenewCommand,
  dispatchCommand,
  jobsListCommand,
  jobsShowCommand,
  jobsCancelCommand,
  auditListCommand,
  auditVerifyCommand,
  caInitCommand,
  caCrlCommand,
  caRotateCommand,
  caVerifyCommand,
  caJwksCommand,
  storeCheckCommand,
  storeRepairCommand,
];

function overview(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return `tether: pair machines into a trusted network and send them work

Usage: tether COMMAND [options]    (tether COMMAND --help for details)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n")}

Every command takes --json for machine-readable output.
Admin commands find the daemon through --data-dir (default $TETHER_HOME or ~/.tether).

Quick start:
  tether daemon &                                   # start the daemon
  tether pair code --method pin                     # mint a PIN
  tether node pair --daemon 127.0.0.1:7443 --pin P  # on the node: prints a code
  tether pair approve --code NNN-NNN                # approve the request with that code
  tether node run --capability echo=cat            # on the node: take work
  tether dispatch DEVICE echo --input '{"hi":1}'   # send it a job
`;
}

function find(argv: string[]): { cmd?: Command; rest: string[] } {
  for (const n of [2, 1]) {
    const name = argv.slice(0, n).join(" ");
    const cmd = COMMANDS.find((c) => c.name === name);
    if (cmd) return { cmd, rest: argv.slice(n) };
  }
  return { rest: argv };
}

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    io.out(overview());
    return argv.length === 0 ? Exit.Usage : Exit.Ok;
  }
  if (argv[0] === "--version") {
    io.out("tether 0.1.0\n");
    return Exit.Ok;
  }
  const { cmd, rest } = find(argv);
  const json = argv.includes("--json");
  try {
    if (!cmd) {
      const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `));
      const hint = group.length ? `\n${argv[0]} commands: ${group.map((c) => c.name).join(", ")}` : "";
      throw new CliError(Exit.Usage, `unknown command "${argv.slice(0, 2).join(" ")}"${hint}\nrun: tether --help`);
    }
    const { values, positionals } = parse(cmd, rest);
    if (values.help) {
      io.out(`Usage: ${cmd.usage}\n\n${cmd.help}\n`);
      return Exit.Ok;
    }
    return await cmd.run({ values, positionals, io });
  } catch (err) {
    const e = err instanceof CliError ? err : new CliError(Exit.Failure, `internal error: ${(err as Error).message}`, { cause: err });
    // The message can carry outside text (a daemon's status details): shown inert, exact in JSON.
    io.err(json ? `${visibleJson({ error: { message: e.message, exitCode: e.exitCode } })}\n` : `tether: ${inert(e.message)}\n`);
    return e.exitCode;
  }
}
