/**
 * A node stopped for longer than its certificate's life comes back by itself (issue 14;
 * docs/fleet.md §5A.5), in real time: `tether daemon --cert-lifetime 1m`, a node paired with
 * the real CLI, `tether node run` stopped for 70 s, then started again: it returns by its
 * identity key, is connected and takes a job without an admin. The time from its start to
 * connected is printed. A soak file (it waits out the certificate), run in the background of
 * `npm test`.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { cli, cliPair, spawnCli, startDaemonProcess, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";

const S = suite("return after expiry, in real time");

S("with --cert-lifetime 1m, a node stopped past its certificate's end starts again, connected and taking jobs, with no admin", async () => {
  const tmp = tempDir("tether-rex-");
  const data = join(tmp.path, "data");
  const { d, ready } = await startDaemonProcess(data, ["--cert-lifetime", "1m"]);
  const stateDir = join(tmp.path, "node");
  const run = () => spawnCli(["node", "run", "--capability", "echo=cat", "--state-dir", stateDir, "--json-logs"]);
  let node: ReturnType<typeof spawnCli> | undefined;
  try {
    const code = (JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", data])).stdout) as { code: string }).code;
    const { result } = await cliPair(data, ["--daemon", ready.listen, "--pin", code, "--name", "sleepy"], stateDir);
    const first = new X509Certificate(readFileSync(join(stateDir, "cert.pem")));
    // Stopped before it could renew, and kept off past the certificate's end.
    const off = Date.parse(first.validTo) - Date.now() + 10_000;
    await new Promise((r) => setTimeout(r, off));
    assert.ok(Date.now() > Date.parse(first.validTo), "the certificate has expired");
    const started = Date.now();
    node = run();
    await waitFor(() => node?.err().includes('"msg":"registered"'), `the node registers (stderr: ${node.err()})`, 30_000);
    const ms = Date.now() - started;
    console.log(`# stopped ${Math.round(off / 1000)} s with a 1-minute certificate: from start to connected ${ms} ms`);
    assert.match(node.err(), /certificate expired: returning by the identity key/);
    const job = await cli(["dispatch", result.deviceId, "echo", "--input", '{"n":1}', "--json", "--data-dir", data]);
    assert.is(job.code, 0, job.stderr);
    const renewed = new X509Certificate(readFileSync(join(stateDir, "cert.pem")));
    assert.ok(Date.parse(renewed.validTo) > Date.now(), "a new certificate, valid now");
    assert.is.not(renewed.fingerprint256, first.fingerprint256);
    assert.is.not(
      renewed.publicKey.export({ type: "spki", format: "der" }).toString("hex"),
      first.publicKey.export({ type: "spki", format: "der" }).toString("hex"),
      "on a new TLS key",
    );
    const pending = JSON.parse((await cli(["pair", "list", "--state", "pending", "--json", "--data-dir", data])).stdout) as unknown[];
    assert.is(pending.length, 0, "no admin was needed");
  } finally {
    if (node) {
      node.child.kill("SIGTERM");
      await node.exited;
    }
    await stopDaemonProcess(d);
    tmp.remove();
  }
});

S.run();
