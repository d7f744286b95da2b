/**
 * npm run bench -- pairing: complete pairings (handshake, approval through the admin socket,
 * certificate issued and stored) per second at 1 and 8 at a time, beside the "crypto floor":
 * the native node:crypto operations one pairing needs (2 X25519, Ed25519 sign and verify,
 * one ECDSA P-256 signature), timed in the same run.
 */
import { generateKeyPairSync, diffieHellman, sign, verify } from "node:crypto";
import { pair } from "@tether/node";
import { admin, mintCode, startTestDaemon, tempDir } from "../test/helpers.ts";

const PAIRINGS = Number(process.env.BENCH_PAIRINGS ?? 40);

function floorMs(n = 500): number {
  const x1 = generateKeyPairSync("x25519");
  const x2 = generateKeyPairSync("x25519");
  const ed = generateKeyPairSync("ed25519");
  const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const msg = Buffer.alloc(64, 1);
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    diffieHellman({ privateKey: x1.privateKey, publicKey: x2.publicKey });
    diffieHellman({ privateKey: x2.privateKey, publicKey: x1.publicKey });
    const s = sign(null, msg, ed.privateKey);
    verify(null, msg, ed.publicKey, s);
    sign("sha256", msg, ec.privateKey);
  }
  return (performance.now() - t) / n;
}

export async function benchPairing() {
  const tmp = tempDir("tether-bench-");
  const d = await startTestDaemon({ dataDir: `${tmp.path}/data` });
  try {
    let k = 0;
    const one = async () => {
      const code = await mintCode(d);
      await pair({
        daemon: d.listen,
        pin: code.code,
        name: `b${k}`,
        stateDir: `${tmp.path}/n${k++}`,
        onVerificationCode: (_c, i) => void admin(d, "ApproveRequest", { id: i.requestId, role: "" }),
      });
    };
    await one(); // warm up
    for (const conc of [1, 8]) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: conc }, async () => {
        while (next++ < PAIRINGS) await one();
      }));
      const secs = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000 / PAIRINGS;
      console.log(
        `pairing x${conc}: ${(PAIRINGS / secs).toFixed(1)} pairings/s, ${((secs * 1000) / PAIRINGS * conc).toFixed(1)} ms each, CPU ${cpuMs.toFixed(1)} ms per pairing (node and daemon in one process, scrypt of the PIN on the node included)`,
      );
    }
    const floor = floorMs();
    console.log(`crypto floor (native X25519 x2, Ed25519 sign+verify, ECDSA P-256 sign): ${floor.toFixed(3)} ms per pairing`);
  } finally {
    await d.stop();
    tmp.remove();
  }
}
