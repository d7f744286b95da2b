/**
 * The replica's register of forwarded streams (packages/daemon/src/forward.ts), as pure logic:
 * an end the active signals (stream-ends.ts) reaches its stream once, and never a stream that
 * has closed or another replica's number.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { ForwardedStreams } from "../packages/daemon/src/forward.ts";

test("a signalled end reaches its stream once, with the active's status", () => {
  const streams = new ForwardedStreams();
  const got: [number, string][] = [];
  const a = streams.open((code, details) => got.push([code, details]));
  const b = streams.open(() => assert.unreachable("another stream was ended"));
  assert.is.not(a, b);
  assert.ok(streams.end(a, status.PERMISSION_DENIED, "device dev_x has been revoked"));
  assert.equal(got, [[status.PERMISSION_DENIED, "device dev_x has been revoked"]]);
  assert.not.ok(streams.end(a, status.PERMISSION_DENIED, "again"), "a second end finds nothing");
  assert.is(got.length, 1);
  assert.is(streams.size, 1);
});

test("a closed stream, or a number this replica never gave, is not ended", () => {
  const streams = new ForwardedStreams();
  const a = streams.open(() => assert.unreachable("a closed stream was ended"));
  streams.close(a);
  assert.not.ok(streams.end(a, status.PERMISSION_DENIED, "late"));
  assert.not.ok(streams.end("999", status.PERMISSION_DENIED, "not ours"));
  assert.is(streams.size, 0);
});

test.run();
