/**
 * An active daemon and its standby on one PostgreSQL (docs/scaling.md, "Failover"): the
 * standby waits without listening; kill -9 of the active, and the standby takes the database
 * (its writer lock, a new writer epoch), loads the state and listens within seconds; a node
 * given both addresses (`tether node run --daemon A,B`) reconnects to it; the job the dead
 * daemon had delivered is not lost (it finishes, from the node's result or a redelivery), and
 * new jobs run through the new active daemon.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { cli, cliPair, spawnCli, startDaemonWith, stopDaemonProcess, tempDir, waitFor } from "./helpers.ts";
import type { Ready } from "./helpers.ts";
import { startPostgres } from "./postgres.ts";
import type { TestPostgres } from "./postgres.ts";

const F = suite("failover on PostgreSQL");
const ctx = {} as { pg: TestPostgres; tmp: ReturnType<typeof tempDir> };

F.before(async () => {
  ctx.pg = await startPostgres();
  ctx.tmp = tempDir("tether-pgf-");
});
F.after(async () => {
  await ctx.pg.stop();
  ctx.tmp.remove();
});

F("kill -9 of the active daemon: the standby takes over within seconds, the node follows it, and no accepted job is lost", async () => {
  const kek = join(ctx.tmp.path, "kek.json");
  assert.is((await cli(["ca", "new-kek", kek])).code, 0);
  const store = ["--store", ctx.pg.url, "--kek-file", kek];
  const dataA = join(ctx.tmp.path, "a");
  const dataB = join(ctx.tmp.path, "b");
  const a = await startDaemonWith(["--data-dir", dataA, "--listen", "127.0.0.1:0", ...store]);
  // The standby: it waits for the database, not listening, not ready.
  const b = spawnCli(["daemon", "--json", "--data-dir", dataB, "--listen", "127.0.0.1:0", "--standby", ...store]);
  const marks = join(ctx.tmp.path, "marks");
  mkdirSync(marks);
  let node: ReturnType<typeof spawnCli> | undefined;
  try {
    await waitFor(() => /standby: another daemon holds the database/.test(b.err()) || undefined, `the standby waiting (stderr: ${b.err()})`);
    assert.not.ok(b.out().includes('"ready"'), "the standby said it was ready");
    assert.is((await cli(["health", "--data-dir", dataB])).code, 3, "the standby answers health");

    const code = (JSON.parse((await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", dataA])).stdout) as { code: string }).code;
    const state = join(ctx.tmp.path, "node");
    const { result } = await cliPair(dataA, ["--daemon", a.ready.listen, "--pin", code, "--name", "follower"], state);
    // B's port is not known until it listens: the node gets A and a port B will be given.
    const portB = await freePort();
    node = spawnCli([
      "node",
      "run",
      "--state-dir",
      state,
      "--daemon",
      `${a.ready.listen},127.0.0.1:${portB}`,
      "--capability",
      `slow=touch "${marks}/$TETHER_JOB_ID.$TETHER_JOB_ATTEMPT"; sleep 2; echo "{\\"attempt\\":$TETHER_JOB_ATTEMPT}"`,
      "--capability",
      "echo=cat",
      "--json-logs",
    ]);
    const online = (data: string) =>
      waitFor(
        async () => {
          const l = await cli(["devices", "list", "--json", "--data-dir", data]);
          return l.code === 0 && (JSON.parse(l.stdout) as { online: boolean }[])[0]?.online ? true : undefined;
        },
        `the node online at ${data}`,
        30_000,
      );
    await online(dataA);
    const queued = await cli(["dispatch", result.deviceId, "slow", "--no-wait", "--json", "--data-dir", dataA]);
    assert.is(queued.code, 0, queued.stderr);
    const jobId = (JSON.parse(queued.stdout) as { id: string }).id;
    await waitFor(() => existsSync(join(marks, `${jobId}.1`)) || undefined, "the job running on the node");

    // The standby was started with port 0; it must listen where the node looks for it.
    b.child.kill("SIGKILL");
    await b.exited;
    const b2 = spawnCli(["daemon", "--json", "--data-dir", dataB, "--listen", `127.0.0.1:${portB}`, "--standby", ...store]);
    try {
      await waitFor(() => /standby: another daemon holds the database/.test(b2.err()) || undefined, `the standby waiting (stderr: ${b2.err()})`);
      const killedAt = Date.now();
      a.d.child.kill("SIGKILL");
      await a.d.exited;
      const line = await waitFor(
        () =>
          b2
            .out()
            .split("\n")
            .find((l) => l.includes('"ready"')),
        `the standby taking over (stderr: ${b2.err()})`,
        20_000,
      );
      const tookOverMs = Date.now() - killedAt;
      const ready = JSON.parse(line) as Ready;
      assert.is(ready.caFingerprint, a.ready.caFingerprint);
      assert.ok(tookOverMs < 10_000, `the standby took ${tookOverMs} ms`);
      await online(dataB);
      const followedMs = Date.now() - killedAt;
      assert.ok(followedMs < 20_000, `the node took ${followedMs} ms to follow`);
      // The job the dead daemon had delivered finishes: from the node's result, or delivered again.
      const done = await waitFor(
        async () => {
          const j = await cli(["jobs", "show", jobId, "--json", "--data-dir", dataB]);
          const job = JSON.parse(j.stdout) as { state: string; attempts: number };
          return job.state === "succeeded" ? job : undefined;
        },
        "the delivered job finished",
        30_000,
      );
      assert.ok(done.attempts >= 1, `attempts: ${done.attempts}`);
      // B took the database with a higher writer epoch than A's: A's late writes would be fenced.
      const epochs = JSON.parse((await cli(["status", "--json", "--data-dir", dataB])).stdout) as { writerEpoch: number };
      assert.ok(epochs.writerEpoch > 1, `writer epoch ${epochs.writerEpoch}`);
      const next = await cli(["dispatch", result.deviceId, "echo", "--input", '"after"', "--json", "--data-dir", dataB]);
      assert.is(next.code, 0, next.stderr);
      assert.match(node.err(), new RegExp(`"next":"127.0.0.1:${portB}"`));
      // The dead daemon's store cannot come back and write: a restart of A is now the standby.
      const again = await cli(["daemon", "--data-dir", dataA, "--listen", "127.0.0.1:0", ...store], { timeoutMs: 20_000 });
      assert.is(again.code, 9, again.stderr);
      console.log(`    took over in ${tookOverMs} ms; node online again ${followedMs} ms after the kill`);
    } finally {
      await stopDaemonProcess(b2);
    }
  } finally {
    if (node) {
      node.child.kill("SIGTERM");
      await node.exited;
    }
    await stopDaemonProcess(a.d);
    await stopDaemonProcess(b);
  }
});

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

F.run();
