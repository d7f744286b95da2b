/** tether's command line: finds the command, parses its flags, prints help and errors. */
import type { Command, Io } from "./cli.js";
import { visibleJson } from "@tether/base";
import { CliError, Exit, didYouMean, helpOf, inert, nearest, parse } from "./cli.js";
import { daemonCommand } from "./commands/daemon.js";
import { devicesListCommand } from "./commands/devices/list.js";
import { devicesShowCommand } from "./commands/devices/show.js";
import { nodePairCommand } from "./commands/node/pair.js";
import { pairApproveCommand } from "./commands/pair/approve.js";
import { pairCodeCommand } from "./commands/pair/code.js";
import { pairListCommand } from "./commands/pair/list.js";
import { pairRejectCommand } from "./commands/pair/reject.js";
import { statusCommand } from "./commands/status.js";
import { healthCommand } from "./commands/health.js";
import { dispatchCommand } from "./commands/dispatch.js";
import { auditListCommand } from "./commands/audit/list.js";
import { caCrlCommand } from "./commands/ca/crl.js";
import { storeMigrateCommand, storeUpgradeCommand } from "./commands/store/postgres.js";
import { caInitCommand } from "./commands/ca/init.js";
import { caExportKekCommand, caNewKekCommand } from "./commands/ca/kek.js";
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
import { devicesReturnPolicyCommand } from "./commands/devices/return-policy.js";
import { devicesGrantCommand, devicesUngrantCommand } from "./commands/devices/grant.js";
import { jobsCancelCommand } from "./commands/jobs/cancel.js";
import { jobsListCommand } from "./commands/jobs/list.js";
import { jobsShowCommand } from "./commands/jobs/show.js";
import { nodeRunCommand } from "./commands/node/run.js";
import { nodeRenewCommand } from "./commands/node/renew.js";
import { storeCheckCommand } from "./commands/store/check.js";
import { storeRepairCommand } from "./commands/store/repair.js";
import { printCliVersion, versionCommand } from "./commands/version.js";
import { completionCommand } from "./commands/completion.js";
import { webhooksDeliveriesCommand, webhooksListCommand, webhooksRedeliverCommand } from "./commands/webhooks/webhooks.js";
import { completeCommand } from "./commands/complete.js";
import { consoleCommand } from "./commands/console.js";

export const COMMANDS: readonly Command[] = [
  daemonCommand,
  statusCommand,
  healthCommand,
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
  devicesReturnPolicyCommand,
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
  webhooksListCommand,
  webhooksDeliveriesCommand,
  webhooksRedeliverCommand,
  consoleCommand,
  caInitCommand,
  caNewKekCommand,
  caExportKekCommand,
  caCrlCommand,
  caRotateCommand,
  caVerifyCommand,
  caJwksCommand,
  storeCheckCommand,
  storeRepairCommand,
  storeMigrateCommand,
  storeUpgradeCommand,
  versionCommand,
  completionCommand(() => COMMANDS),
  completeCommand,
];

const visibleCommands = () => COMMANDS.filter((c) => !c.hidden);

function overview(): string {
  const list = visibleCommands();
  const w = Math.max(...list.map((c) => c.name.length));
  return `tether: pair machines into a trusted network and send them work

Usage: tether COMMAND [flags]    (tether COMMAND --help for details)

Commands:
${list.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n")}

Every command takes --json for machine-readable output, and --help.
Admin commands find the daemon through --data-dir (default $TETHER_HOME or ~/.tether).
Shell completion: tether completion bash|zsh|fish --help

Quick start:
  tether daemon &                                   # start the daemon
  tether pair code --method pin                     # mint a PIN
  tether node pair --daemon 127.0.0.1:7443 --pin P  # on the node: prints a code
  tether pair approve --code NNN-NNN                # approve the request with that code
  tether node run --capability echo=cat            # on the node: take work
  tether dispatch DEVICE echo --input '{"hi":1}'   # send it a job
`;
}

/** The commands of a group ("pair": pair code, pair list, ...). */
function groupOf(word: string): Command[] {
  return visibleCommands().filter((c) => c.name.startsWith(`${word} `));
}

function groupHelp(word: string): string {
  const list = groupOf(word);
  const own = COMMANDS.find((c) => c.name === word);
  const w = Math.max(...list.map((c) => c.name.length), own ? own.name.length : 0);
  return `Usage: tether ${word} COMMAND [flags]

Commands:
${[...(own ? [own] : []), ...list].map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n")}

Run tether ${word} COMMAND --help for a command's flags and examples.
`;
}

/** The first words of every command: daemon, pair, devices, ... */
function topWords(): string[] {
  return [...new Set(visibleCommands().map((c) => c.name.split(" ")[0] as string))];
}

/** An unknown first word: suggest the nearest top-level word, or the command whose verb it is. */
function unknownCommand(word: string): CliError {
  const top = nearest(word, topWords());
  const verbs = top.length
    ? []
    : nearest(
        word,
        visibleCommands()
          .filter((c) => c.name.includes(" "))
          .map((c) => c.name),
        (n) => n.slice(n.indexOf(" ") + 1),
      );
  const near = [...top, ...verbs];
  return new CliError(Exit.Usage, `unknown command ${JSON.stringify(word)}${didYouMean(near)}\nrun: tether --help`, { problem: { word, suggestions: near } });
}

function unknownSubcommand(group: string, word: string): CliError {
  const list = groupOf(group);
  const near = nearest(
    word,
    list.map((c) => c.name),
    (n) => n.slice(group.length + 1),
  );
  return new CliError(Exit.Usage, `unknown command ${JSON.stringify(`${group} ${word}`)}${didYouMean(near)}\n${group} commands: ${list.map((c) => c.name).join(", ")}`, {
    problem: { word: `${group} ${word}`, suggestions: near },
  });
}

type Route = { cmd: Command; rest: string[] } | { help: string; code: number };

/**
 * Find the command: its first one or two words. A group word alone ("pair") shows the group's
 * commands; a word that names nothing is an error with the nearest command.
 */
function route(argv: string[]): Route {
  const [first = "", second] = argv;
  if (first.startsWith("-")) throw new CliError(Exit.Usage, `give the command first: tether COMMAND [flags] (got ${JSON.stringify(first)})\nrun: tether --help`);
  const two = second === undefined ? undefined : COMMANDS.find((c) => c.name === `${first} ${second}`);
  if (two) return { cmd: two, rest: argv.slice(2) };
  const one = COMMANDS.find((c) => c.name === first);
  const group = groupOf(first).length > 0;
  if (one) {
    // "audit verfy": a command that is also a group, followed by a word it does not take
    if (group && one.args.length === 0 && second !== undefined && !second.startsWith("-")) throw unknownSubcommand(first, second);
    return { cmd: one, rest: argv.slice(1) };
  }
  if (!group) throw unknownCommand(first);
  if (second === undefined || second.startsWith("-")) {
    const asked = argv.includes("--help") || argv.includes("-h");
    return { help: groupHelp(first), code: asked ? Exit.Ok : Exit.Usage };
  }
  throw unknownSubcommand(first, second);
}

/** Whether errors should be JSON: --json, or -o/--output json, anywhere. */
function wantsJson(argv: string[]): boolean {
  return argv.some((a, i) => a === "--json" || a === "-ojson" || a === "--output=json" || ((a === "-o" || a === "--output") && argv[i + 1] === "json"));
}

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    io.out(overview());
    return argv.length === 0 ? Exit.Usage : Exit.Ok;
  }
  const json = wantsJson(argv);
  try {
    // `tether --version [--json]`: this CLI's version alone, asking no daemon; `tether version` asks it
    if (argv[0] === "--version") return printCliVersion(argv.slice(1), io);
    const r = route(argv);
    if ("help" in r) {
      (r.code === Exit.Ok ? io.out : io.err)(r.help);
      return r.code;
    }
    const { values, positionals, help } = parse(r.cmd, r.rest);
    if (help) {
      io.out(helpOf(r.cmd));
      return Exit.Ok;
    }
    return await r.cmd.run({ values, positionals, io });
  } catch (err) {
    const e = err instanceof CliError ? err : new CliError(Exit.Failure, `internal error: ${(err as Error).message}`, { cause: err });
    // The message can carry outside text (a daemon's status details): shown inert, exact in JSON.
    // With --json, a usage error about one word also names it (error.word) and the nearest spellings.
    const error = { message: e.message, exitCode: e.exitCode, ...(e.problem ? { word: e.problem.word, suggestions: e.problem.suggestions } : {}) };
    io.err(json ? `${visibleJson({ error })}\n` : `tether: ${inert(e.message)}\n`);
    return e.exitCode;
  }
}
