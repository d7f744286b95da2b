/**
 * Soak (opt-in: TETHER_SOAK=1, length TETHER_SOAK_SECONDS, default 300): a node with
 * 1-minute certificates runs for minutes under steady work, renewing several times, with one
 * uninterrupted stream and no failed job. Real processes, real mutual TLS.
 */
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cli, cliPair, spawnCli, startDaemonProcess, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";

const ON = process.env.TETHER_SOAK === "1";
const SECONDS = Number(process.env.TETHER_SOAK_SECONDS ?? 300);

if (ON) {
  test(`a node with 1-minute certificates runs ${SECONDS} s: renews repeatedly on one stream, no job fails`, async () => {
    const tmp = tempDir();
    const data = join(tmp.path, "data");
    const { d, ready } = await startDaemonProcess(data, ["--cert-lifetime", "1m"]);
    let runner: ReturnType<typeof spawnCli> | undefined;
    try {
      const pin = JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", data])).stdout) as { code: string };
      const { result } = await cliPair(data, ["--daemon", ready.listen, "--pin", pin.code, "--name", "soak"], join(tmp.path, "node"));
      runner = spawnCli(["node", "run", "--state-dir", join(tmp.path, "node"), "--json-logs", "--capability", "echo=cat"]);
      await waitFor(() => runner?.err().includes('"registered"'), "registered", 30_000);
      const until = Date.now() + SECONDS * 1000;
      let jobs = 0;
      while (Date.now() < until) {
        const r = await cli(["dispatch", result.deviceId, "echo", "--input", `{"n":${jobs}}`, "--timeout", "30", "--json", "--data-dir", data]);
        assert.is(r.code, 0, `job ${jobs}: ${r.stderr}`);
        assert.equal((JSON.parse(r.stdout) as { output: unknown }).output, { n: jobs });
        jobs++;
        await new Promise((res) => setTimeout(res, 5000));
      }
      const log = runner.err();
      const renewals = log.split("\n").filter((l) => l.includes('"certificate renewed"')).length;
      const registrations = log.split("\n").filter((l) => l.includes('"registered"')).length;
      console.log(`    ${jobs} jobs, ${renewals} renewals, ${registrations} registration(s) in ${SECONDS} s`);
      assert.ok(renewals >= Math.floor(SECONDS / 60), `renewed ${renewals} times`);
      assert.is(registrations, 1, "one uninterrupted stream");
      assert.not.match(log, /renewal failed/);
    } finally {
      if (runner) await stopDaemonProcess(runner, "SIGKILL");
      await stopDaemonProcess(d, "SIGKILL");
      tmp.remove();
    }
  });
}

test.run();
