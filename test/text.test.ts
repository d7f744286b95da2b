/** clip and visible: outside text bounded for echoing, and made harmless for a terminal. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { clip, visible, visibleJson } from "@tether/base";

test("visible shows every C0, DEL, C1 and bidi control as an escape and keeps printable text", () => {
  const hostile = "ok\x1b[2J\x1b]0;owned\x07\u009b31m\x7f\u202etxt.exe\r\n\té";
  const out = visible(hostile);
  assert.is(out, "ok\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\x7f\\u202etxt.exe\\r\\n\\té");
  for (let c = 0; c < 0x20; c++) assert.not.ok(visible(String.fromCharCode(c)).includes(String.fromCharCode(c)), `C0 ${c}`);
  for (let c = 0x7f; c < 0xa0; c++) assert.not.ok(visible(String.fromCharCode(c)).includes(String.fromCharCode(c)), `C1 ${c}`);
  assert.is(visible("Zürich — 東京"), "Zürich — 東京");
});

test("clip keeps short text and marks a cut with the length that was dropped", () => {
  assert.is(clip("short"), "short");
  assert.is(clip("x".repeat(2_000_000), 8), "xxxxxxxx…(+1999992 chars)");
  assert.ok(clip("y".repeat(10_000)).length < 100);
  // a cut never leaves half of a surrogate pair
  const cut = clip("ab😀cd", 3);
  assert.is(cut, "ab…(+4 chars)");
  assert.not.ok(/[\ud800-\udbff](?![\udc00-\udfff])/.test(cut));
});

test("visibleJson parses to exactly the value and leaves no control character raw, the layout's newlines kept", () => {
  const all = Array.from({ length: 0x2100 }, (_, i) => String.fromCharCode(i)).join("") + "\u202e\u2066\ufeff\u200b";
  const value = { all, nested: [all, { k: "\x1b]0;t\x07\u009b" }], n: 1 };
  for (const space of [undefined, 2]) {
    const text = visibleJson(value, space);
    assert.equal(JSON.parse(text), value);
    assert.not.ok(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/.test(text), `space ${space}`);
    assert.is(text.includes("\n"), space !== undefined);
  }
  assert.is(visibleJson({ a: "é\u009b" }), '{"a":"é\\u009b"}');
});

test.run();
