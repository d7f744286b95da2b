/**
 * The node's side of the handshake against a hostile daemon. A fake daemon (real gRPC over
 * TLS, the real pairing state machine, an in-memory store) holds the pairing code and the real
 * CA certificate, but lies in one place: a signer that is just another CA-issued leaf, a bad
 * transcript signature, a certificate for someone else's key, or terminal escapes in a reason.
 * The node must refuse each time and store nothing.
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { existsSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Server, ServerCredentials, loadPackageDefinition } from "@grpc/grpc-js";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { pair } from "@tether/node";
import type { NodeError } from "@tether/node";
import { AuditLog } from "@tether/audit";
import { createSealer } from "@tether/crypto";
import { PairingManager } from "@tether/pairing";
import type { PairingAuthority, PairingOp, PairingRepository } from "@tether/pairing";
import { tetherPackageDefinition } from "@tether/wire";
import { loadOrCreateAuthority } from "../packages/daemon/src/authority.ts";
import type { LoadedAuthority } from "../packages/daemon/src/authority.ts";
import { silentLogger } from "../packages/daemon/src/log.ts";
import { pairingGuard, pairingService } from "../packages/daemon/src/services/pairing.ts";
import { tempDir, waitFor } from "./helpers.ts";

/** An in-memory repository: fine here, the store is not what this test is about. */
function memoryRepo(): PairingRepository {
  const t = new Map<string, Map<string, unknown>>();
  const table = (name: string) => t.get(name) ?? (t.set(name, new Map()).get(name) as Map<string, unknown>);
  const sorted = (name: string) => [...table(name).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    get: async (name, id) => table(name).get(id) as never,
    list: async (name) => sorted(name).map(([, v]) => v) as never,
    scan: async (name, o = {}) => {
      let rows = sorted(name).filter(([k]) => (o.gte === undefined || k >= o.gte) && (o.gt === undefined || k > o.gt) && (o.lt === undefined || k < o.lt) && (o.lte === undefined || k <= o.lte));
      if (o.reverse) rows = rows.reverse();
      return rows.slice(0, o.limit ?? rows.length).map(([, v]) => v) as never;
    },
    batch: async (ops: readonly PairingOp[]) => {
      for (const op of ops) {
        if (op.type === "put") table(op.table).set(op.value.id, structuredClone(op.value));
        else table(op.table).delete(op.key);
      }
    },
  } satisfies PairingRepository as PairingRepository;
}

type Fake = { address: string; pm: PairingManager; stop(): Promise<void> };

async function fakeDaemon(auth: LoadedAuthority, lie: Partial<PairingAuthority>): Promise<Fake> {
  const pm = new PairingManager({
    repo: memoryRepo(),
    ca: { ...auth, ...lie },
    clock: { now: Date.now },
    randomBytes: (n) => new Uint8Array(randomBytes(n)),
    advertise: () => address,
    sealer: createSealer(new Uint8Array(randomBytes(32)), (n) => new Uint8Array(randomBytes(n))),
  });
  const pkg = loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: { Pairing: { service: ServiceDefinition } } } };
  const server = new Server();
  server.addService(pkg.tether.v1.Pairing.service, pairingService(pm, auth.caCertDer, silentLogger, pairingGuard({ limit: { burst: 1000, perSecond: 1000 }, now: Date.now, trail: new AuditLog(memoryRepo() as never, Date.now) })));
  const creds = ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(auth.serverCertPem), private_key: Buffer.from(auth.serverKeyPem.expose()) }], false);
  const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", creds, (e, p) => (e ? rej(e) : res(p))));
  const address = `127.0.0.1:${port}`;
  return { address, pm, stop: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

const ctx = {} as { tmp: ReturnType<typeof tempDir>; auth: LoadedAuthority };
const N = suite("pairing: the node against a lying daemon");

N.before(async () => {
  ctx.tmp = tempDir();
  ctx.auth = await loadOrCreateAuthority({ dataDir: `${ctx.tmp.path}/daemon`, hosts: ["localhost", "127.0.0.1"], now: Date.now() });
});
N.after(() => ctx.tmp.remove());

/** Pair against the fake with a QR code (so the CA pin is checked too) and approve when asked. */
async function tryPair(f: Fake, dir: string, decide: (id: string) => Promise<unknown> = (id) => f.pm.approve(id)): Promise<NodeError> {
  const { code } = await f.pm.mintCode("qr");
  const p = pair({ uri: code.expose(), name: "victim", stateDir: dir, onVerificationCode: (_c, i) => void decide(i.requestId) });
  return p.then(
    () => {
      throw new Error("the node accepted a lying daemon");
    },
    (e: NodeError) => e,
  );
}

N("a signer that is merely another leaf of the same CA is refused", async () => {
  // A paired device's client certificate chains to the real CA; its holder could sign anything.
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const leaf = await ctx.auth.issueNodeCert({
    deviceId: "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa",
    publicKeySpkiDer: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
    now: Date.now(),
  });
  const f = await fakeDaemon(ctx.auth, {
    signerCertDer: leaf.certDer,
    signTranscript: (m) => new Uint8Array(sign("sha256", m, privateKey)),
  });
  try {
    const e = await tryPair(f, `${ctx.tmp.path}/n1`);
    assert.is(e.code, "BAD_CERTIFICATE");
    assert.match(e.message, /pairing signer/);
    assert.not.ok(existsSync(`${ctx.tmp.path}/n1/cert.pem`));
    assert.is((await f.pm.listRequests()).length, 0, "the node never sent Finish");
  } finally {
    await f.stop();
  }
});

N("a transcript signature that does not verify is refused", async () => {
  const f = await fakeDaemon(ctx.auth, { signTranscript: () => new Uint8Array(72).fill(0x30) });
  try {
    const e = await tryPair(f, `${ctx.tmp.path}/n2`);
    assert.is(e.code, "BAD_DAEMON_SIGNATURE");
    assert.is((await f.pm.listRequests()).length, 0);
  } finally {
    await f.stop();
  }
});

N("a certificate for another key is refused and nothing is stored", async () => {
  const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey;
  const f = await fakeDaemon(ctx.auth, {
    issueNodeCert: (o) => ctx.auth.issueNodeCert({ ...o, publicKeySpkiDer: new Uint8Array(other.export({ type: "spki", format: "der" })) }),
  });
  try {
    const e = await tryPair(f, `${ctx.tmp.path}/n3`);
    assert.is(e.code, "BAD_CERTIFICATE");
    assert.match(e.message, /not for this node's TLS key/);
    assert.not.ok(existsSync(`${ctx.tmp.path}/n3/cert.pem`));
    assert.not.ok(existsSync(`${ctx.tmp.path}/n3/node.json`));
  } finally {
    await f.stop();
  }
});

N("text from the daemon is stripped of control characters before it is shown", async () => {
  const f = await fakeDaemon(ctx.auth, {});
  try {
    const e = await tryPair(f, `${ctx.tmp.path}/n4`, (id) => f.pm.reject(id, "\u001b[2J\u001b]0;pwned\u0007go away"));
    assert.is(e.code, "REJECTED");
    assert.not.match(e.message, /[\u0000-\u001f\u007f]/);
    assert.match(e.message, /go away/);
  } finally {
    await f.stop();
  }
});

N("the honest fake (same code path, no lie) pairs, so the refusals above are the lies' doing", async () => {
  const f = await fakeDaemon(ctx.auth, {});
  try {
    const { code } = await f.pm.mintCode("qr");
    const r = await pair({ uri: code.expose(), name: "ok", stateDir: `${ctx.tmp.path}/n5`, onVerificationCode: (_c, i) => void f.pm.approve(i.requestId) });
    assert.match(r.deviceId, /^dev_/);
    await waitFor(() => existsSync(`${ctx.tmp.path}/n5/node.json`), "state saved");
  } finally {
    await f.stop();
  }
});

N.run();
