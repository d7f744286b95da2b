/**
 * Every test that docs/security.md cites as showing a defence exists, in the file it names:
 * a renamed or removed test must not leave a threat row pointing at nothing.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT } from "./helpers.ts";

/** `test/x.test.ts` › "name"; › "other" … : each file with the names cited after it. */
export function citations(markdown: string): { file: string; name: string }[] {
  const out: { file: string; name: string }[] = [];
  for (const cell of markdown.split("|")) {
    let file: string | undefined;
    const re = /`(test\/[\w.-]+\.test\.ts)`|›\s*(?:\([^)]*\)\s*:?\s*)?"([^"]+)"/g;
    for (let m = re.exec(cell); m; m = re.exec(cell)) {
      if (m[1]) file = m[1];
      else if (file && m[2]) out.push({ file, name: m[2] });
    }
  }
  return out;
}

const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The names of the tests a file declares (\`T("name", …)\`, and \`T(\`… \${x} …\`, …)\`
 * templates, whose interpolations match anything), as anchored patterns.
 */
export function testNames(source: string): RegExp[] {
  const out: RegExp[] = [];
  for (const m of source.matchAll(/^\s*[A-Za-z]\w*\(\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)\s*,/gm)) {
    if (m[1] !== undefined) out.push(new RegExp(`^${escape(JSON.parse(`"${m[1]}"`) as string)}`));
    else if (m[2] !== undefined)
      out.push(
        new RegExp(
          `^${m[2]
            .split(/\$\{[^}]*\}/)
            .map(escape)
            .join(".*")}`,
        ),
      );
  }
  return out;
}

test("every test security.md cites exists in the file it names", () => {
  const cited = citations(readFileSync(join(ROOT, "docs", "security.md"), "utf8"));
  assert.ok(cited.length > 100, `only ${cited.length} citations found: the pattern no longer matches the table`);
  const missing: string[] = [];
  const texts = new Map<string, string>();
  for (const { file, name } of cited) {
    const path = join(ROOT, file);
    if (!existsSync(path)) {
      missing.push(`${file} does not exist (cited for "${name}")`);
      continue;
    }
    const names = testNames(texts.get(file) ?? texts.set(file, readFileSync(path, "utf8")).get(file) ?? "");
    // "name: …" cites every test whose name starts so
    const prefix = name.endsWith("…") ? name.replace(/\s*…$/, "") : undefined;
    const found = names.some((n) => (prefix !== undefined ? n.test(prefix) || n.source.startsWith(escape(prefix)) : n.test(name)));
    if (!found) missing.push(`${file} has no test "${name}"`);
  }
  assert.equal(missing, [], missing.join("\n"));
});

test("the parser finds names after a file, and not before one", () => {
  assert.equal(citations('| x | `test/a.test.ts` › "one"; › "two"; `test/b.test.ts` › "three" |'), [
    { file: "test/a.test.ts", name: "one" },
    { file: "test/a.test.ts", name: "two" },
    { file: "test/b.test.ts", name: "three" },
  ]);
  assert.equal(citations('| › "orphan" |'), []);
  const names = testNames('T("a \\"quoted\\" one", async () => {});\n  S(`daemon ${x ? "ahead" : "behind"} by 5`, () => {});');
  assert.ok(names.some((n) => n.test('a "quoted" one')));
  assert.ok(names.some((n) => n.test("daemon behind by 5")));
});

test.run();
