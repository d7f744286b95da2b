/**
 * A full disk under a running daemon (bin/tether as a child process, real LevelDB): a small
 * tmpfs where mounting is allowed (root), else the store's fault-injection file. The first
 * failed write answers UNAVAILABLE "the store cannot be written: disk full?" (not INTERNAL), on
 * every service (Pairing, Node, Orchestrator, Admin); open streams end the same way; the daemon
 * stays up refusing everything but Admin.Status, `tether status` says why (exit 14), freeing
 * space does not make it trust its memory again, and a restart recovers.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { connect } from "@tether/node";
import type { NodeConnection } from "@tether/node";
import { FAULT_FILE_ENV } from "@tether/store";
import type { StatusResponse } from "@tether/wire";
import { rpc } from "../packages/cli/src/cli.ts";
import { cli, handshakeStart, mintCode, pairDevice, pinParts, rawNodeClient, rawPairing, startDaemonProcess, stopDaemonProcess, tempDir } from "./helpers.ts";

const S = suite("store full disk");
const ctx = {} as { tmp: ReturnType<typeof tempDir> };

S.before(() => {
  ctx.tmp = tempDir("tether-full-disk-");
});
S.after(() => ctx.tmp.remove());

/** A small disk for the data directory: a tmpfs where mounting is allowed, else the store's fault file. */
function smallDisk(dir: string): { fill(): void; free(): void; env: NodeJS.ProcessEnv; release(): void; kind: string } {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", dir], { stdio: "ignore" });
    const filler = join(dir, "filler");
    return {
      kind: "a full 8 MiB tmpfs",
      env: {},
      fill() {
        const chunk = Buffer.alloc(256 * 1024);
        try {
          for (let i = 0; i < 64; i++) writeFileSync(filler, chunk, { flag: "a" });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
        }
        // the last pages: one byte at a time is not needed, ENOSPC above means the disk is full
      },
      free: () => rmSync(filler, { force: true }),
      release: () => execFileSync("umount", [dir], { stdio: "ignore" }),
    };
  } catch {
    const fault = join(dir, "..", "fault");
    return {
      kind: `the store's fault injection (${FAULT_FILE_ENV}; mounting a tmpfs is not allowed here)`,
      env: { [FAULT_FILE_ENV]: fault },
      fill: () => writeFileSync(fault, ""),
      free: () => rmSync(fault, { force: true }),
      release: () => undefined,
    };
  }
}

S("a full disk: the first failed write answers UNAVAILABLE on every service, the daemon stays up refusing, status says why, a restart recovers", async () => {
  const disk = smallDisk(join(ctx.tmp.path, "disk"));
  const data = join(ctx.tmp.path, "disk", "data");
  let conn: NodeConnection | undefined;
  let daemon: Awaited<ReturnType<typeof startDaemonProcess>>["d"] | undefined;
  try {
    const started = await startDaemonProcess(data, [], "127.0.0.1:0", disk.env);
    daemon = started.d;
    const listen = started.ready.listen;
    const nodeDir = join(ctx.tmp.path, "disk-node");
    const device = await pairDevice({ dataDir: data, listen }, nodeDir, { name: "full-disk-node" });
    conn = connect(nodeDir, { daemon: listen });
    conn.handle("echo", (x) => x);
    conn.on("fatal", () => undefined);
    await conn.start();
    const ended = new Promise<{ code: number; details: string }>((r) => conn?.once("disconnected", r));
    // Codes to count attempts against: refusals are coalesced in the audit log and rate
    // limited, so it is the attempts (one durable write per Start, on a different code each
    // time) that fill the last free pages.
    const codes: ReturnType<typeof pinParts>[] = [];
    for (let i = 0; i < 25; i++) codes.push(pinParts((await mintCode({ dataDir: data })).code));
    disk.fill();

    // Pairing traffic only, as in the report: each Start counts an attempt against its code.
    const p = rawPairing(listen);
    const parts = codes[0] as ReturnType<typeof pinParts>;
    let n = 0;
    const start = () =>
      handshakeStart(p, codes[n++ % codes.length] as ReturnType<typeof pinParts>, undefined, {}, { reveal: false }).then(
        () => undefined,
        (e: ServiceError) => e,
      );
    let first: ServiceError | undefined;
    let calls = 0;
    for (; calls < 300 && !first; calls++) {
      const e = await start();
      if (e && (e.code === status.UNAVAILABLE || e.code === status.INTERNAL)) first = e;
    }
    p.close();
    assert.ok(first, "a write failed");
    assert.is(first?.code, status.UNAVAILABLE, `not INTERNAL: ${first?.details}`);
    assert.match(first?.details ?? "", /the store cannot be written: disk full\?/);
    // every service now: Pairing, Node (the open stream and a new call), Orchestrator, Admin
    const p2 = rawPairing(listen);
    const again = await handshakeStart(p2, parts, undefined, {}, { reveal: false }).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    p2.close();
    assert.is(again?.code, status.UNAVAILABLE);
    assert.match(again?.details ?? "", /STORE_FAILED/);
    const streamEnd = await ended;
    assert.is(streamEnd.code, status.UNAVAILABLE);
    assert.match(streamEnd.details, /STORE_FAILED/);
    const nodeClient = await rawNodeClient(listen, nodeDir);
    const crl = await new Promise<ServiceError | null>((r) =>
      (nodeClient as unknown as Record<string, (q: object, cb: (e: ServiceError | null) => void) => void>).GetCrl?.call(nodeClient, {}, (e) => r(e)),
    );
    nodeClient.close();
    assert.is(crl?.code, status.UNAVAILABLE, "Node.GetCrl refused");
    const refused = (service: "Admin" | "Orchestrator", method: string, req: object) =>
      rpc(service, { kind: "socket", dataDir: data }, method, req).then(
        () => ({ exitCode: 0, message: `${method} answered` }),
        (e: { exitCode: number; message: string }) => e,
      );
    for (const e of [
      await refused("Orchestrator", "Dispatch", { deviceId: device, capability: "echo", input: Buffer.from("1"), timeoutMs: 0, idempotencyKey: "" }),
      await refused("Admin", "ListDevices", {}),
    ]) {
      assert.is(e.exitCode, 14);
      assert.match(e.message, /the store cannot be written: disk full\?/);
    }
    const mint = await cli(["pair", "code", "--method", "pin", "--data-dir", data]);
    assert.is(mint.code, 14, mint.stderr);
    assert.match(mint.stderr, /tether: STORE_FAILED: the store cannot be written: disk full\?/);
    // Status still answers, and says why.
    const s = await rpc<StatusResponse>("Admin", { kind: "socket", dataDir: data }, "Status", {});
    assert.is(s.storeState, "failed");
    assert.match(s.storeError, /the store cannot be written/);
    assert.ok(s.storeSince > 0);
    const st = await cli(["status", "--data-dir", data]);
    assert.is(st.code, 14, st.stderr);
    assert.match(st.stdout, /store: +FAILED since .*: the store cannot be written/);
    assert.is(daemon.child.exitCode, null, "the daemon stays up, refusing");
    assert.match(daemon.err(), /store write failed; refusing every call until the daemon is restarted/);

    // Space again: still refused (memory is not trusted), until a restart reloads from disk.
    disk.free();
    assert.is((await refused("Admin", "CreateCode", { method: "pin", ttlSeconds: 0 })).exitCode, 14);
    await conn.close();
    conn = undefined;
    assert.is(await stopDaemonProcess(daemon), 0);
    const back = await startDaemonProcess(data, [], "127.0.0.1:0", disk.env);
    daemon = back.d;
    await mintCode({ dataDir: data });
    assert.is((await rpc<StatusResponse>("Admin", { kind: "socket", dataDir: data }, "Status", {})).storeState, "ok");
    console.log(
      `  full disk (${disk.kind}): after ${calls} pairing calls, the first failed write answered ${status[first?.code ?? 0]} "${first?.details}"\n    tether status: ${/store: .*/.exec(st.stdout)?.[0]}\n    tether pair code: ${mint.stderr.trim()}`,
    );
  } finally {
    await conn?.close();
    if (daemon) await stopDaemonProcess(daemon);
    disk.release();
  }
});

S.run();
