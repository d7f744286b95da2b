/**
 * Text that came from outside (a node, an orchestrator, an unauthenticated caller) made safe
 * to echo: `clip` bounds its length wherever it is echoed in an error, a log line or an audit
 * entry; `visible` makes control characters visible before a terminal shows it, and
 * `visibleJson` does the same inside JSON text without changing the value it parses to.
 */

/** How much of an outside string an error message or log line may echo. */
export const ECHO_MAX_CHARS = 64;

/**
 * At most `max` characters of `s`; a longer string is cut and marked with how long it was,
 * e.g. `abc…(+2000000 chars)`, so the cut is never mistaken for the value.
 */
export function clip(s: string, max: number = ECHO_MAX_CHARS): string {
  if (s.length <= max) return s;
  // never cut between the two halves of a surrogate pair (an emoji, say): that half would be
  // an unpaired surrogate, which encoders replace or refuse
  const cut = max > 0 && /[\ud800-\udbff]/.test(s.charAt(max - 1)) ? max - 1 : max;
  return `${s.slice(0, cut)}…(+${s.length - cut} chars)`;
}

// C0 controls, DEL, C1 controls, and the Unicode format characters that reorder or hide text
// (bidi overrides and isolates, zero-width characters, the BOM).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/**
 * `s` with every control character shown as an escape (`\x1b`, `\n`, `\u202e`), so a string
 * from outside cannot move the cursor, rewrite the screen, set a window title or hide text
 * when printed. Printable text, including non-ASCII letters, is unchanged.
 */
export function visible(s: string): string {
  return s.replace(UNSAFE, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u${n.toString(16).padStart(4, "0")}`;
  });
}

/**
 * `JSON.stringify(value, null, space)` in which every character {@link visible} would escape is
 * written as a `\uXXXX` escape. JSON.stringify escapes only U+0000..U+001F; this also covers
 * DEL, C1 controls (U+009B is a CSI to many terminals) and the bidi and zero-width characters.
 * Such characters can only stand inside strings, so the text parses to exactly `value`, and a
 * terminal shows it inert. The newlines of the pretty-printed layout are kept.
 */
export function visibleJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(UNSAFE, (c) => (c === "\n" ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
}

/**
 * A URL as it may be shown or logged: a password, wherever it is (the user-info part, a
 * `password=` parameter as libpq takes it), is replaced by "***".
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):[^@/?#]*@/i, "$1:***@").replace(/([?&]password=)[^&#]*/gi, "$1***");
}
