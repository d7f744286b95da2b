/**
 * A pairing client process (forked by the pairing benchmark, with IPC): it runs the node SDK's
 * pair() for each PIN it is given, `concurrency` at a time, and approves each request through
 * the daemon's admin socket as soon as the handshake is done (ApproveRequest), so no human waits.
 *
 * The daemon limits pairing Starts per source address (burst 30, then 2 per second), which a
 * fleet pairing from many machines never meets but one test machine would at once. So the
 * SDK reaches the daemon through a TCP forwarder here, in the client process, that gives each
 * connection its own loopback source address (127.0.x.y). The daemon's work is unchanged.
 *
 * IPC in:  {type:"pair", daemon, adminSocket, pins, concurrency, stateRoot}
 * IPC out: {type:"paired", ok, failed, errors, ms}   (ms: wall time of each pairing)
 */
import { join } from "node:path";
import { pair } from "@tether/node";
import { loopbackForwarder } from "../test/helpers.ts";
import { adminClient } from "./clients.ts";

const send = (m: object) => process.send?.(m);
let addr = Math.floor(Math.random() * 50_000);

/** 127.0.x.y, never 127.0.0.1 (where the bench's other traffic comes from) */
function nextSource(): string {
  addr = (addr + 1) % 64_000;
  const a = 1 + Math.floor(addr / 250);
  return `127.0.${a}.${2 + (addr % 250)}`;
}

process.on("message", (raw) => {
  const m = raw as { type: string; daemon: string; adminSocket: string; pins: string[]; concurrency: number; stateRoot: string };
  if (m.type !== "pair") return;
  void (async () => {
    const fwd = await loopbackForwarder(m.daemon, nextSource);
    const admin = adminClient(m.adminSocket);
    const ms: number[] = [];
    const errors: string[] = [];
    let ok = 0;
    let failed = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: m.concurrency }, async () => {
        while (next < m.pins.length) {
          const i = next++;
          const t0 = performance.now();
          try {
            await pair({
              daemon: fwd.address,
              pin: m.pins[i] as string,
              name: `pair-bench-${i}`,
              stateDir: join(m.stateRoot, `n${process.pid}-${i}`),
              onVerificationCode: (_code, info) => {
                admin.call("ApproveRequest", { id: info.requestId, role: "" }).catch((err: unknown) => {
                  if (errors.length < 5) errors.push(`approve: ${(err as Error).message}`);
                });
              },
            });
            ok++;
            ms.push(performance.now() - t0);
          } catch (err) {
            failed++;
            if (errors.length < 5) errors.push((err as Error).message);
          }
        }
      }),
    );
    admin.close();
    fwd.close();
    send({ type: "paired", ok, failed, errors, ms });
  })();
});
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
send({ type: "ready" });
