/**
 * Clock skew between node and daemon: with the daemon's clock 5 minutes ahead of or behind the
 * node's (tether tolerates 5 minutes either way), pairing, work and renewal still succeed.
 * The daemon's clock is injected; the node uses the real one.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@tether/node";
import type { Job } from "@tether/wire";
import { rpc } from "../packages/cli/src/cli.ts";
import { pairDevice, startTestDaemon, tempDir, waitFor } from "./helpers.ts";

const S = suite("clock skew");

for (const skewMin of [5, -5]) {
  S(`daemon ${skewMin > 0 ? "ahead" : "behind"} by ${Math.abs(skewMin)} minutes: pair, work, renew`, async () => {
    const tmp = tempDir();
    const d = await startTestDaemon({ dataDir: `${tmp.path}/data`, now: () => Date.now() + skewMin * 60_000 });
    try {
      const id = await pairDevice(d, `${tmp.path}/n`, { name: "skewed" });
      const c = connect(`${tmp.path}/n`);
      c.handle("echo", (x) => x);
      await c.start();
      const target = { kind: "socket" as const, dataDir: d.dataDir };
      const j = await rpc<Job>("Orchestrator", target, "Dispatch", { deviceId: id, capability: "echo", input: Buffer.from("42"), timeoutMs: 30_000, idempotencyKey: "" });
      await waitFor(async () => (await rpc<Job>("Orchestrator", target, "GetJob", { id: j.id })).state === "succeeded", "job done");
      const r = await c.renew();
      assert.ok(r.notAfter > Date.now());
      const { token } = await c.issueToken("svc", 60);
      assert.ok(token.split(".").length === 3);
      await c.close();
    } finally {
      await d.stop();
      tmp.remove();
    }
  });
}

S.run();
