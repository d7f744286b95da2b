/** clip and visible: outside text bounded for echoing, and made harmless for a terminal. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { clip, visible } from "@tether/base";

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
});

test.run();
