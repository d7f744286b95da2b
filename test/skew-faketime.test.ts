/**
 * Clock skew between separate processes, with libfaketime (Debian's `faketime`, installed by
 * scripts/ensure-test-tools.sh): the daemon runs 5 minutes ahead of, then 5 minutes behind,
 * the nodes and the test, whose clocks are real. Pairing, work, a forced renewal, the CRL
 * and tokens all work, the issued certificates pass openssl on the node's clock, and the
 * node estimates the daemon's offset. Beyond the tolerance, the node gets a clear error.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect, verifyToken } from "@tether/node";
import type { NodeConnection } from "@tether/node";
import { admin, cli, cliPair, fakeClock, findLibfaketime, pairDevice, spawnCli, startDaemonProcess, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";

const LIB = findLibfaketime();
const S = suite("clock skew across processes (faketime)");

function opensslVerify(dir: string): string {
  return execFileSync("openssl", ["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", join(dir, "ca.pem"), join(dir, "cert.pem")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

S("libfaketime is installed (the project's scripts install it)", () => {
  assert.ok(LIB, "libfaketime.so.1 not found: run scripts/ensure-test-tools.sh");
});

for (const [offset, minutes] of [
  ["+5m", 5],
  ["-5m", -5],
] as const) {
  S(`daemon ${minutes > 0 ? "ahead" : "behind"} by 5 minutes: pair, work, renew, CRL and tokens across processes`, async () => {
    const tmp = tempDir();
    const data = join(tmp.path, "data");
    const { d, ready } = await startDaemonProcess(data, [], "127.0.0.1:0", fakeClock(offset));
    let runner: ReturnType<typeof spawnCli> | undefined;
    let conn: NodeConnection | undefined;
    try {
      const status = JSON.parse((await cli(["status", "--json", "--data-dir", data])).stdout) as { startedAt: number };
      const skew = status.startedAt - Date.now();
      assert.ok(Math.abs(skew - minutes * 60_000) < 30_000, `the daemon's clock is really ${offset} (measured ${Math.round(skew / 1000)} s)`);

      // pair through the CLI (real clock); the certificate is valid on the node's clock
      const pin = JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", data])).stdout) as { code: string };
      const node = join(tmp.path, "node");
      const { result } = await cliPair(data, ["--daemon", ready.listen, "--pin", pin.code, "--name", "skewed"], node);
      assert.match(opensslVerify(node), /OK/);

      // work through `node run` and `dispatch`
      runner = spawnCli(["node", "run", "--state-dir", node, "--json-logs", "--capability", "echo=cat"]);
      await waitFor(() => runner?.err().includes('"msg":"registered"'), `registered (${runner?.err()})`, 30_000);
      await waitFor(() => runner?.err().includes('"crl updated"'), "the CRL pushed after registering", 10_000);
      assert.match(runner.err(), /"clock skew".*"daemonAheadBySeconds":-?\d+/, "node run warns about the skew");
      const job = await cli(["dispatch", result.deviceId, "echo", "--input", '{"skew":true}', "--json", "--data-dir", data]);
      assert.is(job.code, 0, job.stderr);
      assert.equal((JSON.parse(job.stdout) as { output: unknown }).output, { skew: true });

      // a forced renewal over the open stream; the new certificate is good on the node's clock
      const rot = await cli(["devices", "rotate", result.deviceId, "--data-dir", data]);
      assert.is(rot.code, 0, rot.stderr);
      await waitFor(() => runner?.err().includes('"certificate renewed"'), `renewal (${runner?.err()})`, 20_000);
      assert.match(opensslVerify(node), /OK/);
      assert.not.match(runner.err(), /renewal failed/);

      // tokens: issued on the daemon's clock, verified by the daemon and by a skew-aware node
      await pairDevice({ dataDir: data, listen: ready.listen }, join(tmp.path, "tok"), { name: "tokens" });
      conn = connect(join(tmp.path, "tok"));
      conn.handle("noop", () => null);
      await conn.start();
      const offsetMs = conn.daemonClockOffsetMs();
      assert.ok(Math.abs(offsetMs - minutes * 60_000) < 10_000, `the SDK estimates the offset (${offsetMs} ms)`);
      const { token } = await conn.issueToken("svc", 120);
      const v = await admin<{ status: string }>({ dataDir: data }, "Verify", { certificate: new Uint8Array(), token, audience: "svc", peerDeviceId: "" });
      assert.is(v.status, "valid", "the daemon accepts its own token");
      const claims = await conn.verifyToken(token, "svc");
      assert.is(claims.aud, "svc");
      // on the raw local clock a 2-minute token from a clock 5 minutes off looks expired or from the future
      const jwks = await conn.getJwks();
      assert.throws(() => verifyToken(token, jwks, { audience: "svc", now: Date.now() }), minutes > 0 ? /future/ : /expired/);
    } finally {
      await conn?.close();
      if (runner) await stopDaemonProcess(runner, "SIGKILL");
      await stopDaemonProcess(d, "SIGKILL");
      tmp.remove();
    }
  });
}

S("beyond the tolerance (daemon 20 minutes ahead), pairing fails with an error that names the clocks", async () => {
  const tmp = tempDir();
  const data = join(tmp.path, "data");
  const { d, ready } = await startDaemonProcess(data, [], "127.0.0.1:0", fakeClock("+20m"));
  try {
    const pin = JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", data])).stdout) as { code: string };
    const node = spawnCli(["node", "pair", "--daemon", ready.listen, "--pin", pin.code, "--name", "late", "--state-dir", join(tmp.path, "n"), "--json"]);
    const waiting = await waitFor(
      () =>
        node
          .err()
          .split("\n")
          .find((l) => l.includes("awaiting_approval")) ?? (node.child.exitCode !== null ? "exited" : undefined),
      `node to wait or exit (stderr: ${node.err()})`,
    );
    if (waiting !== "exited") {
      const { requestId } = JSON.parse(waiting) as { requestId: string };
      await cli(["pair", "approve", requestId, "--data-dir", data]);
    }
    const code = await node.exited;
    assert.is.not(code, 0, "pairing with a clock 20 minutes off did not succeed silently");
    assert.match(node.err(), /clock/i, `the error names the clock (${node.err()})`);
  } finally {
    await stopDaemonProcess(d, "SIGKILL");
    tmp.remove();
  }
});

S.run();
