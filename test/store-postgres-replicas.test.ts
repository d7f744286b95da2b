/**
 * Three daemons on one PostgreSQL (docs/scaling.md, "Replicas"): A is active, B and C are
 * replicas (`--replica`), each on its own port and admin socket, forwarding every call to A.
 * Through the CLI, real TLS and a real database: a node pairs through B with a code minted on
 * C and approved on B, runs on B, and takes work dispatched on C; `devices list` on C shows
 * it online; a revoke on C ends its stream through B within the call, and its certificate is
 * refused at every replica from then on; an approve and a reject of one request raced on two
 * replicas give one outcome; forwarding headers from a device, or the Admin service on the
 * listener, are refused; kill -9 of A and a replica takes over on its own port, the node
 * (given B and C) carries on, and the other replica forwards to the new active.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { awaitSignedMessage, identitySign } from "@tether/crypto";
import { Metadata, credentials, loadPackageDefinition } from "@grpc/grpc-js";
import type { Client, ServiceClientConstructor } from "@grpc/grpc-js";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { tetherPackageDefinition } from "@tether/wire";
import { WATCH_ENDS_PATH } from "../packages/daemon/src/stream-ends.ts";
import {
  call,
  cli,
  cliPair,
  handshakeFinish,
  handshakeStart,
  nodeKeys,
  pinParts,
  rawNodeStream,
  rawPairing,
  spawnCli,
  startDaemonWith,
  stopDaemonProcess,
  streamEnd,
  tempDir,
  waitFor,
} from "./helpers.ts";
import type { Ready } from "./helpers.ts";
import { startPostgres } from "./postgres.ts";
import type { TestPostgres } from "./postgres.ts";

type Proc = ReturnType<typeof spawnCli>;
type ReplicaReady = Ready & { role: string; replicaId?: string; takeover?: boolean };

const R = suite("replicas on PostgreSQL");
const ctx = {} as {
  pg: TestPostgres;
  tmp: ReturnType<typeof tempDir>;
  store: string[];
  a: Proc;
  aReady: ReplicaReady;
  b: Proc;
  bReady: ReplicaReady;
  c: Proc;
  cReady: ReplicaReady;
  data: Record<"a" | "b" | "c", string>;
};

async function replica(data: string): Promise<{ d: Proc; ready: ReplicaReady }> {
  const r = await startDaemonWith(["--data-dir", data, "--listen", "127.0.0.1:0", "--replica", ...ctx.store]);
  return { d: r.d, ready: r.ready as ReplicaReady };
}

R.before(async () => {
  ctx.pg = await startPostgres();
  ctx.tmp = tempDir("tether-pgr-");
  const kek = join(ctx.tmp.path, "kek.json");
  assert.is((await cli(["ca", "new-kek", kek])).code, 0);
  ctx.store = ["--store", ctx.pg.url, "--kek-file", kek];
  ctx.data = { a: join(ctx.tmp.path, "a"), b: join(ctx.tmp.path, "b"), c: join(ctx.tmp.path, "c") };
  // The first with --replica finds nobody active: it is the active daemon.
  const a = await replica(ctx.data.a);
  ctx.a = a.d;
  ctx.aReady = a.ready;
  const [b, c] = await Promise.all([replica(ctx.data.b), replica(ctx.data.c)]);
  ctx.b = b.d;
  ctx.bReady = b.ready;
  ctx.c = c.d;
  ctx.cReady = c.ready;
});
R.after(async () => {
  for (const p of [ctx.a, ctx.b, ctx.c]) if (p) await stopDaemonProcess(p);
  await ctx.pg?.stop();
  ctx.tmp?.remove();
});

const json = <T>(r: { code: number | null; stdout: string; stderr: string }): T => {
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
};

R("the first is active, the others are replicas with their own port and admin socket, and an admin command on a replica is the active's answer", async () => {
  assert.is(ctx.aReady.role, "active");
  assert.is(ctx.bReady.role, "replica");
  assert.is(ctx.cReady.role, "replica");
  assert.ok(new Set([ctx.aReady.listen, ctx.bReady.listen, ctx.cReady.listen]).size === 3);
  assert.is(ctx.bReady.caFingerprint, ctx.aReady.caFingerprint);
  const viaC = json<{ listen: string; store: string; writerEpoch: number }>(await cli(["status", "--json", "--data-dir", ctx.data.c]));
  assert.is(viaC.listen, ctx.aReady.listen, "Admin.Status through C is A's");
  assert.ok(viaC.writerEpoch >= 1);
  // Health on a replica's socket and listener: serving while it reaches the active.
  assert.is((await cli(["health", "--data-dir", ctx.data.b])).code, 0);
});

R("a node pairs through B with a code minted on C, runs on B, takes work dispatched on C, and is listed online on every replica", async () => {
  const code = json<{ code: string }>(await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data.c])).code;
  const state = join(ctx.tmp.path, "node1");
  const { result } = await cliPair(ctx.data.b, ["--daemon", ctx.bReady.listen, "--pin", code, "--name", "through-b"], state);
  assert.is(result.caFingerprint, ctx.aReady.caFingerprint);
  const node = spawnCli(["node", "run", "--state-dir", state, "--daemon", `${ctx.bReady.listen},${ctx.cReady.listen}`, "--capability", "echo=cat", "--json-logs"]);
  try {
    for (const data of [ctx.data.a, ctx.data.b, ctx.data.c]) {
      await waitFor(
        async () => {
          const l = await cli(["devices", "list", "--json", "--data-dir", data]);
          return l.code === 0 && (JSON.parse(l.stdout) as { id: string; online: boolean }[]).find((d) => d.id === result.deviceId)?.online ? true : undefined;
        },
        `the node online, seen from ${data}`,
        30_000,
      );
    }
    // Every replica lists the device, and which replica carries its stream: B's.
    const listed = json<{ id: string; connectedVia: string }[]>(await cli(["devices", "list", "--json", "--data-dir", ctx.data.a]));
    assert.is(listed.find((d) => d.id === result.deviceId)?.connectedVia, ctx.bReady.replicaId);
    assert.match((await cli(["devices", "list", "--data-dir", ctx.data.c])).stdout, `online via ${ctx.bReady.replicaId ?? "?"}`);
    const ran = json<{ state: string; output: unknown }>(await cli(["dispatch", result.deviceId, "echo", "--input", '{"via":"c"}', "--json", "--data-dir", ctx.data.c]));
    assert.is(ran.state, "succeeded");
    assert.equal(ran.output, { via: "c" });
    const shown = json<{ state: string }>(await cli(["jobs", "list", "--device", result.deviceId, "--json", "--data-dir", ctx.data.b]));
    assert.ok(Array.isArray(shown) && (shown as unknown[]).length === 1, JSON.stringify(shown));
  } finally {
    node.child.kill("SIGTERM");
    await node.exited;
  }
});

R("one pairing over three daemons: Start through B, Reveal through C, Finish on A, Await through B, approved on C's admin socket", async () => {
  const code = json<{ code: string }>(await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data.a])).code;
  const [b, c, a] = [rawPairing(ctx.bReady.listen), rawPairing(ctx.cReady.listen), rawPairing(ctx.aReady.listen)];
  try {
    const h = await handshakeStart(b, pinParts(code), nodeKeys(), { name: "roaming" }, { reveal: false });
    const reveal = await call<{ daemonConfirmation: Uint8Array }>(c, "Reveal", { sessionId: h.start.sessionId, ya: h.ya });
    assert.equal(new Uint8Array(reveal.daemonConfirmation), new Uint8Array(h.session.daemonConfirmation), "C's Reveal proves the daemon B's Start spoke to");
    const { requestId } = await handshakeFinish(a, h);
    const timestamp = Date.now();
    const stream = b.Await({ requestId, timestamp, signature: identitySign(h.keys.secretKey, awaitSignedMessage(requestId, timestamp)) });
    const answer = new Promise<{ state: string; certificate: Uint8Array }>((resolve, reject) => {
      stream.on("data", (m: { state: string; certificate: Uint8Array }) => m.state !== "pending" && resolve(m));
      stream.on("error", reject);
    });
    const approved = json<{ state: string; certificateFingerprint: string }>(await cli(["pair", "approve", requestId, "--json", "--data-dir", ctx.data.c]));
    assert.is(approved.state, "approved");
    const got = await answer;
    assert.is(got.state, "approved");
    assert.is(createHash("sha256").update(got.certificate).digest("hex"), approved.certificateFingerprint, "the Await through B carries the certificate C's approval issued");
  } finally {
    for (const x of [a, b, c]) x.close();
  }
});

R("a revoke on C ends the device's stream through B at once, and its certificate is refused at every replica from then on", async () => {
  const code = json<{ code: string }>(await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data.a])).code;
  const state = join(ctx.tmp.path, "node2");
  const { result } = await cliPair(ctx.data.c, ["--daemon", ctx.cReady.listen, "--pin", code, "--name", "to-revoke"], state);
  const { stream, close } = await rawNodeStream(ctx.bReady.listen, state);
  try {
    stream.write({
      register: { deviceId: result.deviceId, capabilities: [{ name: "echo", description: "", inputSchema: "", outputSchema: "" }], platform: "x", version: "1", maxConcurrency: 1 },
    });
    await waitFor(async () => {
      const l = await cli(["devices", "list", "--json", "--data-dir", ctx.data.c]);
      return (JSON.parse(l.stdout) as { id: string; online: boolean }[]).find((d) => d.id === result.deviceId)?.online ? true : undefined;
    }, "the raw stream online");
    const ended = streamEnd(stream);
    const t0 = Date.now();
    json(await cli(["devices", "revoke", result.deviceId, "--json", "--data-dir", ctx.data.c]));
    const answeredMs = Date.now() - t0;
    const end = await ended;
    const endedMs = Date.now() - t0;
    assert.is.not(end.code, 0, "the stream ended with an error status");
    assert.ok(endedMs < answeredMs + 1_000, `the stream through B ended ${endedMs} ms after the revoke on C (answered at ${answeredMs} ms)`);
    for (const listen of [ctx.aReady.listen, ctx.bReady.listen, ctx.cReady.listen]) {
      const again = await rawNodeStream(listen, state);
      again.stream.write({
        register: {
          deviceId: result.deviceId,
          capabilities: [{ name: "echo", description: "", inputSchema: "", outputSchema: "" }],
          platform: "x",
          version: "1",
          maxConcurrency: 1,
        },
      });
      const refused = await streamEnd(again.stream);
      again.close();
      assert.is(refused.code, 16, `at ${listen}: ${refused.details}`); // UNAUTHENTICATED
      assert.match(refused.details, /revoked/);
    }
  } finally {
    close();
  }
});

R("a node through B that stops reading holds up no other node through B, and a revoke still ends the other's stream at once", async () => {
  const pairVia = async (name: string) => {
    const code = json<{ code: string }>(await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data.a])).code;
    const state = join(ctx.tmp.path, name);
    const { result } = await cliPair(ctx.data.b, ["--daemon", ctx.bReady.listen, "--pin", code, "--name", name], state);
    return { state, id: result.deviceId };
  };
  const slow = await pairVia("stalled");
  const fast = await pairVia("reader");
  const register = (id: string, maxConcurrency: number) => ({
    register: { deviceId: id, capabilities: [{ name: "echo", description: "", inputSchema: "", outputSchema: "" }], platform: "x", version: "1", maxConcurrency },
  });
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: { Orchestrator: ServiceClientConstructor } } };
  type Dispatch = (req: object, cb: (err: { code: number; details: string } | null, job: { id: string }) => void) => void;
  const orch = new pkg.tether.v1.Orchestrator(`unix://${ctx.aReady.adminSocket}`, credentials.createInsecure(), {
    "grpc.max_send_message_length": 4 << 20,
  }) as unknown as Client & {
    Dispatch: Dispatch;
  };
  const dispatch = (deviceId: string, input: Buffer) =>
    new Promise<string>((resolve, reject) =>
      orch.Dispatch({ deviceId, capability: "echo", input, timeoutMs: 600_000 }, (err, job) => (err ? reject(new Error(err.details)) : resolve(job.id))),
    );
  const stalled = await rawNodeStream(ctx.bReady.listen, slow.state);
  const reader = await rawNodeStream(ctx.bReady.listen, fast.state);
  try {
    // The stalled node registers, then never reads again, while jobs of ~900 KB each pile up for it.
    await new Promise<void>((resolve) => {
      stalled.stream.once("data", () => resolve());
      stalled.stream.write(register(slow.id, 64));
    });
    stalled.stream.pause();
    stalled.stream.on("error", () => {}); // it ends when the test closes it
    const big = Buffer.from(JSON.stringify("x".repeat(900_000)));
    for (let i = 0; i < 24; i++) await dispatch(slow.id, big);
    // The reader, on the same replica (so on the same connection to the active), still gets its job at once.
    const jobs: string[] = [];
    reader.stream.on("data", (m: { job?: { jobId: string } }) => {
      if (m.job) jobs.push(m.job.jobId);
    });
    reader.stream.write(register(fast.id, 1));
    await waitFor(async () => {
      const l = await cli(["devices", "list", "--json", "--data-dir", ctx.data.a]);
      return (JSON.parse(l.stdout) as { id: string; online: boolean }[]).find((d) => d.id === fast.id)?.online ? true : undefined;
    }, "the reader online");
    const sentAt = Date.now();
    const jobId = await dispatch(fast.id, Buffer.from('"small"'));
    await waitFor(() => (jobs.includes(jobId) ? true : undefined), "the reader's job delivered past the stalled node's backlog", 5_000);
    const deliveredMs = Date.now() - sentAt;
    // And its revocation ends its stream at once, whatever waits on the connection.
    const ended = streamEnd(reader.stream);
    const t0 = Date.now();
    json(await cli(["devices", "revoke", fast.id, "--json", "--data-dir", ctx.data.c]));
    const answeredMs = Date.now() - t0;
    const end = await Promise.race([ended, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000))]);
    assert.ok(end, "the reader's stream did not end within 5 s of the revoke");
    const endedMs = Date.now() - t0;
    assert.is(end.code, 7, end.details); // PERMISSION_DENIED, the active's own status
    assert.match(end.details, /revoked/);
    assert.ok(endedMs < answeredMs + 1_000, `ended ${endedMs} ms after the revoke (answered at ${answeredMs} ms)`);
    console.log(
      `    behind a stalled node's ~21 MB: the reader's job delivered in ${deliveredMs} ms; its stream ended ${endedMs} ms after the revoke call (answered at ${answeredMs} ms)`,
    );
  } finally {
    orch.close();
    reader.close();
    // Its channel closed with the stream paused: its connection stays open and never reads again
    // (a peer gone silent), with megabytes B cannot write; the takeover below must not wait for it.
    stalled.close();
  }
});

R("an approve on B and a reject on C of the same request, at the same moment: one outcome, never two", async () => {
  const code = json<{ code: string }>(await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data.b])).code;
  const state = join(ctx.tmp.path, "node3");
  const node = spawnCli(["node", "pair", "--daemon", ctx.cReady.listen, "--pin", code, "--name", "raced", "--state-dir", state, "--json"]);
  try {
    const waiting = await waitFor(
      () =>
        node
          .err()
          .split("\n")
          .find((l) => l.includes("awaiting_approval")),
      `the request (stderr: ${node.err()})`,
    );
    const { requestId } = JSON.parse(waiting) as { requestId: string };
    const [ap, rj] = await Promise.all([
      cli(["pair", "approve", requestId, "--json", "--data-dir", ctx.data.b]),
      cli(["pair", "reject", requestId, "--json", "--data-dir", ctx.data.c]),
    ]);
    assert.is([ap.code, rj.code].filter((c) => c === 0).length, 1, `approve: ${ap.code} ${ap.stderr}; reject: ${rj.code} ${rj.stderr}`);
    const exited = await node.exited;
    assert.is(exited === 0, ap.code === 0, `the node's outcome matches: ${node.err()}`);
    const listed = json<{ id: string; state: string }[]>(await cli(["pair", "list", "--json", "--data-dir", ctx.data.a]));
    assert.is(listed.find((r) => r.id === requestId)?.state, ap.code === 0 ? "approved" : "rejected");
  } finally {
    if (node.child.exitCode === null) node.child.kill("SIGTERM");
    await node.exited;
  }
});

R("forwarding headers from anyone but a replica are refused, and the Admin service is not on the listener", async () => {
  const code = json<{ code: string }>(await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data.a])).code;
  const state = join(ctx.tmp.path, "node4");
  await cliPair(ctx.data.a, ["--daemon", ctx.aReady.listen, "--pin", code, "--name", "forger"], state);
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: { Admin: ServiceClientConstructor } } };
  const { loadCredentials } = await import("@tether/node");
  const own = loadCredentials(state);
  const creds = credentials.createSsl(Buffer.from(own.caPem), Buffer.from(own.keyPem.expose()), Buffer.from(own.certPem));
  type Call = (req: object, md: Metadata, cb: (err: { code: number; details: string } | null) => void) => void;
  const admin = new pkg.tether.v1.Admin(ctx.aReady.listen, creds) as unknown as Client & { ListDevices: Call };
  const list = (md: Metadata) => new Promise<{ code: number; details: string } | null>((resolve) => admin.ListDevices({}, md, (err) => resolve(err)));
  try {
    const plain = await list(new Metadata());
    assert.is(plain?.code, 7, `direct: ${plain?.details}`); // PERMISSION_DENIED
    const md = new Metadata();
    md.set("tether-forwarded-origin", "admin-socket");
    const forged = await list(md);
    assert.is(forged?.code, 7, `forged: ${forged?.details}`);
    assert.match(forged?.details ?? "", /FORWARD_REFUSED/);
    // On the Node service too: another device's certificate in the header is refused before any handler.
    const other = loadCredentials(join(ctx.tmp.path, "node1"));
    const pem = other.certPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    const node = new (loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: { Node: ServiceClientConstructor } } }).tether.v1.Node(
      ctx.aReady.listen,
      creds,
    ) as unknown as Client & {
      GetJwks: Call;
    };
    try {
      const asOther = new Metadata();
      asOther.set("tether-forwarded-cert-bin", Buffer.from(pem, "base64"));
      const err = await new Promise<{ code: number; details: string } | null>((resolve) => node.GetJwks({}, asOther, (e) => resolve(e)));
      assert.is(err?.code, 7, `forged cert: ${err?.details}`);
      assert.match(err?.details ?? "", /FORWARD_REFUSED/);
      const fine = await new Promise<{ code: number; details: string } | null>((resolve) => node.GetJwks({}, new Metadata(), (e) => resolve(e)));
      assert.is(fine, null, `the same call without the header: ${fine?.details}`);
      // Nor may a device listen to the ends the active signals to its replicas.
      const watch = node.makeServerStreamRequest(
        WATCH_ENDS_PATH,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        new Metadata(),
        {},
      );
      watch.on("data", () => assert.unreachable("a device heard a stream end"));
      const watched = await streamEnd(watch as unknown as NodeJS.ReadableStream);
      assert.is(watched.code, 7, watched.details);
      assert.match(watched.details, /FORWARD_REFUSED/);
    } finally {
      node.close();
    }
  } finally {
    admin.close();
  }
});

R("kill -9 of the active: a replica takes over on its own port, the node carries on, the other replica forwards to the new active", async () => {
  const code = json<{ code: string }>(await cli(["pair", "code", "--method", "pin", "--json", "--data-dir", ctx.data.b])).code;
  const state = join(ctx.tmp.path, "node5");
  const { result } = await cliPair(ctx.data.b, ["--daemon", ctx.bReady.listen, "--pin", code, "--name", "survivor"], state);
  const node = spawnCli(["node", "run", "--state-dir", state, "--daemon", `${ctx.bReady.listen},${ctx.cReady.listen}`, "--capability", "echo=cat", "--json-logs"]);
  try {
    const online = (data: string) =>
      waitFor(
        async () => {
          const l = await cli(["devices", "list", "--json", "--data-dir", data]);
          return l.code === 0 && (JSON.parse(l.stdout) as { id: string; online: boolean }[]).find((d) => d.id === result.deviceId)?.online ? true : undefined;
        },
        `the node online, seen from ${data}`,
        30_000,
      );
    await online(ctx.data.c);
    const killedAt = Date.now();
    ctx.a.child.kill("SIGKILL");
    await ctx.a.exited;
    const tookOver = await waitFor(
      () => {
        for (const [p, ready] of [
          [ctx.b, ctx.bReady],
          [ctx.c, ctx.cReady],
        ] as const) {
          const line = p
            .out()
            .split("\n")
            .find((l) => l.includes('"takeover":true'));
          if (line) return { p, was: ready, now: JSON.parse(line) as ReplicaReady };
        }
        return undefined;
      },
      `a replica taking over (B: ${ctx.b.err().slice(-2000)}; C: ${ctx.c.err().slice(-2000)})`,
      20_000,
    );
    const tookOverMs = Date.now() - killedAt;
    // B still holds the stalled node's connection (above), with megabytes it cannot write: a takeover does not wait for it.
    assert.ok(tookOverMs < 5_000, `a replica took over ${tookOverMs} ms after the kill`);
    assert.is(tookOver.now.listen, tookOver.was.listen, "it took over on its own port");
    assert.is(tookOver.now.role, "active");
    const other = tookOver.p === ctx.b ? ctx.data.c : ctx.data.b;
    await online(other);
    const followedMs = Date.now() - killedAt;
    const ran = json<{ state: string; output: unknown }>(await cli(["dispatch", result.deviceId, "echo", "--input", '"after"', "--json", "--data-dir", other]));
    assert.is(ran.state, "succeeded");
    const st = json<{ writerEpoch: number; listen: string }>(await cli(["status", "--json", "--data-dir", other]));
    assert.is(st.listen, tookOver.now.listen);
    console.log(`    a replica took over ${tookOverMs} ms after the kill; the node online again, seen from the other replica, after ${followedMs} ms`);
  } finally {
    node.child.kill("SIGTERM");
    await node.exited;
  }
});

R.run();
