/** tether completion bash|zsh|fish: print a shell completion script. */
import type { Command } from "../cli.js";
import { Exit } from "../cli.js";
import { SHELLS, completionScript } from "../completion.js";
import type { Shell } from "../completion.js";

/** The command, for the commands `list()` returns (main.ts's COMMANDS: a function, as they include this one). */
export function completionCommand(list: () => readonly Command[]): Command {
  return {
    name: "completion",
    summary: "print a shell completion script for bash, zsh or fish",
    args: [{ name: "SHELL", about: "the shell", choices: SHELLS }],
    help: `Prints a script that completes tether's commands, flags and flag values in SHELL,
and, from a running daemon, pending request ids, device ids, job ids and a device's
capabilities (\`tether __complete\` asks the admin socket of the --data-dir typed on the
line, else $TETHER_HOME or ~/.tether; with no daemon it offers nothing).
Load it in this shell, or install it for every shell:
  bash: source <(tether completion bash)    or   tether completion bash > /etc/bash_completion.d/tether
  zsh:  source <(tether completion zsh)     or   tether completion zsh > "\${fpath[1]}/_tether"
  fish: tether completion fish | source     or   tether completion fish > ~/.config/fish/completions/tether.fish`,
    examples: ["source <(tether completion bash)", "tether completion fish > ~/.config/fish/completions/tether.fish"],
    options: {},
    async run({ positionals, io }) {
      // --json has nothing to add to a script: it is the same text.
      io.out(completionScript(positionals[0] as Shell, list()));
      return Exit.Ok;
    },
  };
}
