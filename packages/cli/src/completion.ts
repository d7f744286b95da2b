/**
 * Shell completion scripts for bash, zsh and fish, generated from the command declarations.
 * Commands, flags, choices, files and directories complete inside the shell with no process
 * started; only live values (request, device and job ids, a device's capabilities) run
 * `tether __complete KIND`, which asks the daemon over its admin socket and prints nothing
 * when none answers (commands/complete.ts).
 */
import type { Command, Flag } from "./cli.js";
import { flagsOf } from "./cli.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** What a word position offers, as the scripts spell it: "", files, dirs, choices:A B, live:KIND. */
function valueKind(x: { choices?: readonly string[] | undefined; complete?: string | undefined }): string {
  if (x.choices) return `choices:${x.choices.join(" ")}`;
  if (x.complete === "files" || x.complete === "dirs") return x.complete;
  return x.complete ? `live:${x.complete}` : "";
}

type Spec = {
  /** first words: commands of one word, and groups */
  top: [string, string][];
  /** group word → [verb, summary] */
  groups: Map<string, [string, string][]>;
  commands: {
    name: string;
    /** [spelling, about]: every long and short spelling */
    flags: [string, string][];
    /** spelling → value kind, for flags that take a value */
    values: [string, string][];
    args: { kind: string; variadic: boolean }[];
  }[];
};

function specOf(commands: readonly Command[]): Spec {
  const visible = commands.filter((c) => !c.hidden);
  const groups = new Map<string, [string, string][]>();
  for (const c of visible) {
    const [g, verb] = c.name.split(" ");
    if (verb === undefined || g === undefined) continue;
    groups.set(g, [...(groups.get(g) ?? []), [verb, c.summary]]);
  }
  const top: [string, string][] = [];
  for (const c of visible) {
    const g = c.name.split(" ")[0] as string;
    if (top.some(([w]) => w === g)) continue;
    const verbs = groups.get(g);
    top.push([g, c.name === g ? c.summary : `${(verbs ?? []).map(([v]) => v).join(", ")}`]);
  }
  return {
    top,
    groups,
    commands: visible.map((c) => {
      const flags: [string, string][] = [];
      const values: [string, string][] = [];
      for (const [n, f] of Object.entries(flagsOf(c)) as [string, Flag][]) {
        const spellings = [`--${n}`, ...(f.short ? [`-${f.short}`] : [])];
        for (const s of spellings) {
          flags.push([s, f.about.split("\n")[0] as string]);
          if (f.type === "string") values.push([s, valueKind(f)]);
        }
      }
      return { name: c.name, flags, values, args: c.args.map((a) => ({ kind: valueKind(a), variadic: Boolean(a.variadic) })) };
    }),
  };
}

/** A single-quoted sh word. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** A single-quoted fish word. */
const fq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

/**
 * The grammar as sh functions (case statements), valid in bash and zsh alike:
 * _tether_is_command WORDS, _tether_group WORD, _tether_flags CMD, _tether_value CMD FLAG,
 * _tether_arg CMD INDEX.
 */
function shGrammar(spec: Spec): string {
  const cases = (fn: string, doc: string, rows: [string, string][], fallback = "return 1") =>
    `${fn}() { # ${doc}\n  case "$1" in\n${rows.map(([p, body]) => `    ${p}) ${body} ;;`).join("\n")}\n    *) ${fallback} ;;\n  esac\n}`;
  const argRows: [string, string][] = [];
  for (const c of spec.commands) {
    for (const [i, a] of c.args.entries()) argRows.push([a.variadic ? `${sq(`${c.name}|`)}*` : sq(`${c.name}|${i}`), `echo ${sq(a.kind)}`]);
  }
  return [
    cases("_tether_is_command", "$1: words; true when they name a command", [[spec.commands.map((c) => sq(c.name)).join("|"), "return 0"]]),
    cases(
      "_tether_group",
      "$1: a first word; prints its subcommands",
      [...spec.groups].map(([g, verbs]) => [sq(g), `echo ${sq(verbs.map(([v]) => v).join(" "))}`]),
      "return 0",
    ),
    cases(
      "_tether_flags",
      "$1: a command; prints its flags",
      spec.commands.map((c) => [sq(c.name), `echo ${sq(c.flags.map(([f]) => f).join(" "))}`]),
    ),
    cases(
      "_tether_value",
      '"$1|$2": command|flag; prints what its value offers (files, dirs, choices:..., live:KIND or nothing), false for a flag that takes no value',
      spec.commands.flatMap((c) => c.values.map(([f, kind]): [string, string] => [sq(`${c.name}|${f}`), `echo ${sq(kind)}`])),
    ).replace('case "$1" in', 'case "$1|$2" in'),
    cases("_tether_arg", '"$1|$2": command|index; prints what that positional offers, false past the last', argRows).replace('case "$1" in', 'case "$1|$2" in'),
    // The walk over the words, shared by bash and zsh: no array indexing (0- vs 1-based).
    `# _tether_what WORD... CURRENT: the words after "tether" up to the one being completed.
# Sets _tether_kind (top, subs:GROUP, flags, files, dirs, choices:..., live:KIND, none),
# _tether_cmd, _tether_cur, _tether_pos (the positionals so far) and _tether_dd (--data-dir DIR).
_tether_what() {
  local k=0 w first="" take="" kind
  _tether_kind=none; _tether_cmd=""; _tether_cur=""; _tether_pos=(); _tether_dd=()
  for w in "$@"; do
    k=$((k + 1))
    if [ "$k" -eq "$#" ]; then _tether_cur=$w; break; fi
    if [ -n "$take" ]; then
      [ "$take" = --data-dir ] && _tether_dd=(--data-dir "$w")
      take=""; continue
    fi
    if [ "$k" -eq 1 ]; then first=$w; _tether_is_command "$w" && _tether_cmd=$w; continue; fi
    if [ "$k" -eq 2 ] && _tether_is_command "$first $w"; then _tether_cmd="$first $w"; continue; fi
    [ -z "$_tether_cmd" ] && return 0
    case $w in
      --*=*) [ "\${w%%=*}" = --data-dir ] && _tether_dd=(--data-dir "\${w#*=}") ;;
      -*) _tether_value "$_tether_cmd" "$w" >/dev/null && take=$w ;;
      *) _tether_pos+=("$w") ;;
    esac
  done
  if [ "$#" -le 1 ]; then _tether_kind=top; return 0; fi
  if [ "$#" -eq 2 ] && [ -n "$(_tether_group "$first")" ]; then
    case $_tether_cur in -*) [ -z "$_tether_cmd" ] && return 0 ;; *) _tether_kind="subs:$first"; return 0 ;; esac
  fi
  [ -z "$_tether_cmd" ] && return 0
  if [ -n "$take" ]; then _tether_kind=$(_tether_value "$_tether_cmd" "$take"); _tether_kind=\${_tether_kind:-none}; return 0; fi
  case $_tether_cur in -*) _tether_kind=flags; return 0 ;; esac
  if kind=$(_tether_arg "$_tether_cmd" "\${#_tether_pos[@]}"); then _tether_kind=\${kind:-none}; return 0; fi
  _tether_kind=flags
}

# _tether_live KIND: live values from the daemon, "value<TAB>about" a line; nothing when none answers.
_tether_live() {
  "$_tether_bin" __complete "$1" "\${_tether_pos[@]}" "\${_tether_dd[@]}" 2>/dev/null
}`,
  ].join("\n\n");
}

function bash(spec: Spec): string {
  return `# tether completion for bash.
#   this shell:  source <(tether completion bash)
#   every shell: tether completion bash > /etc/bash_completion.d/tether
${shGrammar(spec)}

_tether_top=${sq(spec.top.map(([w]) => w).join(" "))}

_tether() {
  local i w glue=0 IFS=$' \\t\\n'
  local -a a=()
  _tether_bin=\${COMP_WORDS[0]}
  # bash splits words at = and : (COMP_WORDBREAKS): --data-dir=DIR becomes --data-dir = DIR
  # and HOST:PORT three words; take them back as the shell will pass them.
  for (( i = 1; i <= COMP_CWORD; i++ )); do
    w=\${COMP_WORDS[i]}
    if (( glue )); then a[-1]+=$w; glue=0; continue; fi
    if (( i < COMP_CWORD )) && [[ $w == : && \${#a[@]} -gt 0 ]]; then a[-1]+=:; glue=1; continue; fi
    if [[ $w == = && \${#a[@]} -gt 0 && \${a[-1]} == -* ]]; then (( i == COMP_CWORD )) && a+=(""); continue; fi
    a+=("$w")
  done
  _tether_what "\${a[@]}"
  local cur=\${COMP_WORDS[COMP_CWORD]}
  [[ $cur == = ]] && cur=""
  COMPREPLY=()
  case $_tether_kind in
    top) COMPREPLY=($(compgen -W "$_tether_top --help --version" -- "$cur")) ;;
    subs:*) COMPREPLY=($(compgen -W "$(_tether_group "\${_tether_kind#subs:}")" -- "$cur")) ;;
    flags) COMPREPLY=($(compgen -W "$(_tether_flags "$_tether_cmd")" -- "$cur")) ;;
    files) compopt -o filenames 2>/dev/null; IFS=$'\\n' COMPREPLY=($(compgen -f -- "$cur")) ;;
    dirs) compopt -o filenames 2>/dev/null; IFS=$'\\n' COMPREPLY=($(compgen -d -- "$cur")) ;;
    choices:*) COMPREPLY=($(compgen -W "\${_tether_kind#choices:}" -- "$cur")) ;;
    live:*) IFS=$'\\n' COMPREPLY=($(compgen -W "$(_tether_live "\${_tether_kind#live:}" | cut -f1)" -- "$cur")) ;;
  esac
  return 0
}
complete -F _tether tether
`;
}

function zsh(spec: Spec): string {
  const described = (rows: [string, string][]) => rows.map(([w, about]) => sq(`${w.replace(/:/g, "\\:")}:${about}`)).join(" ");
  const listCases = (fn: string, doc: string, rows: [string, [string, string][]][]) =>
    `${fn}() { # ${doc}\n  case "$1" in\n${rows.map(([p, items]) => `    ${sq(p)}) reply=(${described(items)}) ;;`).join("\n")}\n    *) reply=() ;;\n  esac\n}`;
  return `#compdef tether
# tether completion for zsh.
#   this shell:  source <(tether completion zsh)      (after compinit)
#   every shell: tether completion zsh > "\${fpath[1]}/_tether"   (then restart zsh)
${shGrammar(spec)}

${listCases("_tether_described_top", "the first words, described", [["", spec.top]])}

${listCases("_tether_described_subs", "$1: a group; its subcommands, described", [...spec.groups])}

${listCases(
  "_tether_described_flags",
  "$1: a command; its flags, described",
  spec.commands.map((c) => [c.name, c.flags]),
)}

_tether() {
  local -a reply values
  _tether_bin=\${words[1]}
  _tether_what "\${(@)words[2,CURRENT]}"
  case $_tether_kind in
    top) _tether_described_top ""; _describe -t commands 'tether command' reply ;;
    subs:*) _tether_described_subs "\${_tether_kind#subs:}"; _describe -t commands "\${_tether_kind#subs:} command" reply ;;
    flags) _tether_described_flags "$_tether_cmd"; _describe -t options 'flag' reply ;;
    files) _files ;;
    dirs) _files -/ ;;
    choices:*) compadd -- \${=_tether_kind#choices:} ;;
    live:*)
      values=(\${(f)"$(_tether_live "\${_tether_kind#live:}")"})
      values=(\${values//:/\\\\:})
      values=(\${values/$'\\t'/:})
      (( \${#values} )) && _describe -t values "\${_tether_kind#live:}" values ;;
  esac
}

if [ "$funcstack[1]" = _tether ]; then _tether "$@"; else compdef _tether tether; fi
`;
}

function fish(spec: Spec): string {
  const sw = (fn: string, doc: string, args: string, rows: [string, string][], fallback = "return 1") =>
    `function ${fn} --argument-names ${args} --description ${fq(doc)}\n    switch "${args
      .split(" ")
      .map((a) => `$${a}`)
      .join("|")}"\n${rows.map(([p, body]) => `        case ${p}\n            ${body}`).join("\n")}\n        case '*'\n            ${fallback}\n    end\nend`;
  const printRows = (rows: [string, string][]) => `printf '%s\\t%s\\n' ${rows.map(([w, a]) => `${fq(w)} ${fq(a)}`).join(" ")}`;
  const argRows: [string, string][] = [];
  for (const c of spec.commands) {
    for (const [i, a] of c.args.entries()) argRows.push([a.variadic ? fq(`${c.name}|*`) : fq(`${c.name}|${i}`), `echo ${fq(a.kind)}`]);
  }
  return `# tether completion for fish.
#   this shell:  tether completion fish | source
#   every shell: tether completion fish > ~/.config/fish/completions/tether.fish
${sw("__tether_is_command", "true when the words name a tether command", "words", [[spec.commands.map((c) => fq(c.name)).join(" "), "return 0"]])}

${sw(
  "__tether_described_subs",
  "a group's subcommands, described",
  "group",
  [...spec.groups].map(([g, verbs]) => [fq(g), printRows(verbs)]),
  "return 0",
)}

${sw(
  "__tether_flags",
  "a command's flags, described",
  "cmd",
  spec.commands.map((c) => [fq(c.name), printRows(c.flags)]),
)}

${sw(
  "__tether_value",
  "what a flag's value offers (files, dirs, choices:..., live:KIND or nothing); false when it takes none",
  "cmd flag",
  spec.commands.flatMap((c) => c.values.map(([f, kind]): [string, string] => [fq(`${c.name}|${f}`), `echo ${fq(kind)}`])),
)}

${sw("__tether_arg", "what a positional offers; false past the last", "cmd index", argRows)}

function __tether_candidates --description 'completions for the tether command line'
    set -l words (commandline -opc)
    set -l bin $words[1]
    set -e words[1]
    set -l cur (commandline -ct)
    set -l cmd ''
    set -l first ''
    set -l take ''
    set -l pos
    set -l dd
    set -l k 0
    for w in $words
        set k (math $k + 1)
        if test -n "$take"
            test "$take" = --data-dir; and set dd --data-dir $w
            set take ''
            continue
        end
        if test $k -eq 1
            set first $w
            __tether_is_command $w; and set cmd $w
            continue
        end
        if test $k -eq 2; and __tether_is_command "$first $w"
            set cmd "$first $w"
            continue
        end
        test -z "$cmd"; and return 0
        switch $w
            case '--*=*'
                string match -q -- '--data-dir=*' $w; and set dd --data-dir (string replace -- '--data-dir=' '' $w)
            case '-*'
                __tether_value $cmd $w >/dev/null; and set take $w
            case '*'
                set -a pos $w
        end
    end
    set -l kind none
    set -l a
    if test (count $words) -eq 0
        printf '%s\\t%s\\n' ${spec.top.map(([w, a]) => `${fq(w)} ${fq(a)}`).join(" ")}
        return 0
    end
    if test (count $words) -eq 1; and test -n "$(__tether_described_subs $first)"; and not string match -q -- '-*' $cur
        __tether_described_subs $first
        return 0
    end
    test -z "$cmd"; and return 0
    if test -n "$take"
        set kind (__tether_value $cmd $take)
    else if string match -q -- '-*' $cur
        set kind flags
    else if set a (__tether_arg $cmd (count $pos))
        set kind $a
    else
        set kind flags
    end
    switch "$kind"
        case flags
            __tether_flags $cmd
        case files
            __fish_complete_path $cur
        case dirs
            __fish_complete_directories $cur
        case 'choices:*'
            string split ' ' -- (string replace 'choices:' '' -- $kind)
        case 'live:*'
            $bin __complete (string replace 'live:' '' -- $kind) $pos $dd 2>/dev/null
    end
end

complete -c tether -f -a '(__tether_candidates)'
`;
}

/** The completion script for `shell`, for these commands. */
export function completionScript(shell: Shell, commands: readonly Command[]): string {
  const spec = specOf(commands);
  return shell === "bash" ? bash(spec) : shell === "zsh" ? zsh(spec) : fish(spec);
}
