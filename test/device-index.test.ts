/**
 * The daemon's certificate index (packages/daemon/src/auth.ts), as pure logic on an injected
 * clock: a renewed device's previous certificate is accepted for the overlap and never after;
 * a revoked device's certificates, current and retired, are refused at once; and what the
 * index holds does not grow with the daemon's history of renewals (it used to keep every
 * replaced certificate and walk them all on each device update).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { DeviceRecord } from "@tether/pairing";
import { DeviceIndex } from "../packages/daemon/src/auth.ts";

const OVERLAP = 120_000;
const rec = (id: string, fp: string, o: { revokedAt?: number } = {}) => ({ id, role: "node", certificateFingerprint: fp, revokedAt: o.revokedAt ?? 0 }) as unknown as DeviceRecord;

test("a renewed certificate is accepted for the overlap, then never again", () => {
  let now = 1_000_000;
  const ix = new DeviceIndex(() => now, OVERLAP);
  ix.update(rec("d1", "fp-a"));
  ix.update(rec("d1", "fp-b"));
  assert.is(ix.lookup("fp-b")?.deviceId, "d1");
  assert.is(ix.lookup("fp-a")?.deviceId, "d1", "within the overlap");
  now += OVERLAP;
  assert.is(ix.lookup("fp-a"), undefined, "at the end of the overlap");
  assert.is(ix.lookup("fp-b")?.deviceId, "d1");
});

test("revoking a device refuses its current and its retired certificates at once", () => {
  const now = 5_000;
  const ix = new DeviceIndex(() => now, OVERLAP);
  ix.update(rec("d1", "fp-a"));
  ix.update(rec("d1", "fp-b"));
  ix.update(rec("d2", "fp-x"));
  ix.update(rec("d2", "fp-y"));
  ix.update(rec("d1", "fp-b", { revokedAt: now }));
  assert.is(ix.lookup("fp-a"), undefined);
  assert.is(ix.lookup("fp-b"), undefined);
  assert.is(ix.revokedDevice("fp-b"), "d1");
  assert.is(ix.lookup("fp-x")?.deviceId, "d2", "another device's retired certificate is untouched");
  assert.is(ix.retiredCount, 1);
});

test("20,000 renewals: the index holds one overlap's worth of retired certificates, not the history", () => {
  let now = 0;
  const ix = new DeviceIndex(() => now, OVERLAP);
  const DEVICES = 100;
  for (let i = 0; i < DEVICES; i++) ix.update(rec(`d${i}`, `fp-${i}-0`));
  let most = 0;
  for (let r = 1; r <= 20_000; r++) {
    now += 1000; // one renewal a second across the fleet
    const i = r % DEVICES;
    ix.update(rec(`d${i}`, `fp-${i}-${r}`));
    most = Math.max(most, ix.retiredCount);
  }
  // 120 s of overlap at one renewal a second: at most 120 retired (plus the one just added).
  assert.ok(most <= OVERLAP / 1000 + 1, `held ${most} retired certificates`);
  assert.is(ix.size, DEVICES);
  assert.is(ix.lookup("fp-1-1"), undefined, "an old certificate is refused");
});

test("a clock stepped back does not make an expired certificate acceptable, and the sweep catches up", () => {
  let now = 1_000_000;
  const ix = new DeviceIndex(() => now, OVERLAP);
  ix.update(rec("d1", "fp-a"));
  ix.update(rec("d1", "fp-b")); // fp-a until 1_120_000
  now = 900_000; // stepped back
  ix.update(rec("d3", "fp-p"));
  ix.update(rec("d3", "fp-q")); // fp-p until 1_020_000, behind fp-a in the map
  now = 1_030_000;
  ix.update(rec("d4", "fp-z")); // a sweep: it stops at fp-a, which is still in its overlap
  assert.is(ix.lookup("fp-p"), undefined, "fp-p's overlap ended at 1_020_000");
  assert.is(ix.lookup("fp-a")?.deviceId, "d1", "fp-a's runs until 1_120_000");
  now = 1_200_000;
  ix.update(rec("d4", "fp-z"));
  assert.is(ix.retiredCount, 0);
  assert.is(ix.lookup("fp-a"), undefined);
});

test.run();
