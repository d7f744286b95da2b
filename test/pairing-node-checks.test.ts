/**
 * The node's side of the handshake against a hostile daemon. A fake daemon (real gRPC over
 * TLS, the real pairing state machine, an in-memory store) holds the pairing code and the real
 * CA certificate, but lies in one place: a signer that is just another CA-issued leaf, a bad
 * transcript signature, a key confirmation that does not match, a certificate for someone
 * else's key or with a broken signature, a renewed certificate for another key, or terminal
 * escapes in a reason. The node must refuse each time and store nothing.
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Server, ServerCredentials, loadPackageDefinition } from "@grpc/grpc-js";
import type { ServiceDefinition, handleUnaryCall } from "@grpc/grpc-js";
import { pair, renewIfDue } from "@tether/node";
import type { NodeError } from "@tether/node";
import { AuditLog } from "@tether/audit";
import { createSealer } from "@tether/crypto";
import { PairingManager } from "@tether/pairing";
import type { PairingAuthority, PairingOp, PairingRepository } from "@tether/pairing";
import { tetherPackageDefinition } from "@tether/wire";
import type { RevealResponseInit } from "@tether/wire";
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
      let rows = sorted(name).filter(
        ([k]) => (o.gte === undefined || k >= o.gte) && (o.gt === undefined || k > o.gt) && (o.lt === undefined || k < o.lt) && (o.lte === undefined || k <= o.lte),
      );
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
type Services = { Pairing: { service: ServiceDefinition }; Node: { service: ServiceDefinition } };
const services = () => (loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: Services } }).tether.v1;
const serverCredentials = (auth: LoadedAuthority) =>
  ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(auth.serverCertPem), private_key: Buffer.from(auth.serverKeyPem.expose()) }], false);

/** `lie` changes what the CA does; `reveal` changes the Reveal answer on its way out. */
async function fakeDaemon(auth: LoadedAuthority, lie: Partial<PairingAuthority>, o: { reveal?: (r: RevealResponseInit) => RevealResponseInit } = {}): Promise<Fake> {
  const pm = new PairingManager({
    repo: memoryRepo(),
    ca: { ...auth, ...lie },
    clock: { now: Date.now },
    randomBytes: (n) => new Uint8Array(randomBytes(n)),
    advertise: () => address,
    sealer: createSealer(new Uint8Array(randomBytes(32)), (n) => new Uint8Array(randomBytes(n))),
  });
  const server = new Server();
  const impl = pairingService(
    pm,
    auth.caCertDer,
    silentLogger,
    pairingGuard({ limit: { burst: 1000, perSecond: 1000 }, now: Date.now, trail: new AuditLog(memoryRepo() as never, Date.now) }),
  );
  const tamper = o.reveal;
  if (tamper) {
    const reveal = impl.Reveal as handleUnaryCall<unknown, RevealResponseInit>;
    impl.Reveal = ((call, cb) => reveal(call, (err, res) => cb(err, res ? tamper(res) : res))) as handleUnaryCall<unknown, RevealResponseInit>;
  }
  server.addService(services().Pairing.service, impl);
  const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", serverCredentials(auth), (e, p) => (e ? rej(e) : res(p))));
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

N("a key confirmation that does not match is refused before Finish, even with a good signature", async () => {
  // The daemon signs the transcript with the real signer, but its confirmation is not the
  // one the code gives: it has not proven that it knows the code.
  const f = await fakeDaemon(ctx.auth, {}, { reveal: (r) => ({ ...r, daemonConfirmation: new Uint8Array(r.daemonConfirmation.length) }) });
  try {
    const e = await tryPair(f, `${ctx.tmp.path}/n6`);
    assert.is(e.code, "WRONG_CODE");
    assert.match(e.message, /could not prove it knows this pairing code/);
    assert.is((await f.pm.listRequests()).length, 0, "the node sent Finish to a daemon that failed key confirmation");
    assert.not.ok(existsSync(`${ctx.tmp.path}/n6/cert.pem`));
  } finally {
    await f.stop();
  }
});

N("an issued certificate whose signature does not verify under the CA is refused", async () => {
  // Right issuer name, our key, our device id, valid now: only the signature is broken.
  const f = await fakeDaemon(ctx.auth, {
    issueNodeCert: async (o) => {
      const c = await ctx.auth.issueNodeCert(o);
      const der = new Uint8Array(c.certDer);
      der[der.length - 1] = (der[der.length - 1] as number) ^ 0x01; // the last byte of the ECDSA signature's s
      return { ...c, certDer: der };
    },
  });
  try {
    const e = await tryPair(f, `${ctx.tmp.path}/n7`);
    assert.is(e.code, "BAD_CERTIFICATE");
    assert.match(e.message, /not a valid leaf of the daemon's CA/);
    assert.not.ok(existsSync(`${ctx.tmp.path}/n7/cert.pem`));
    assert.not.ok(existsSync(`${ctx.tmp.path}/n7/node.json`));
  } finally {
    await f.stop();
  }
});

N("a renewed certificate for another key is refused, and the stored certificate and key stay", async () => {
  const dir = `${ctx.tmp.path}/n8`;
  const honest = await fakeDaemon(ctx.auth, {});
  try {
    const { code } = await honest.pm.mintCode("qr");
    await pair({ uri: code.expose(), name: "renewer", stateDir: dir, onVerificationCode: (_c, i) => void honest.pm.approve(i.requestId) });
  } finally {
    await honest.stop();
  }
  const before = { cert: readFileSync(`${dir}/cert.pem`, "utf8"), key: readFileSync(`${dir}/tls.key`, "utf8") };
  // A Node service that answers Renew with a certificate of the right CA for the right
  // device, but for a key of its own choosing.
  const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey;
  const server = new Server();
  let renewals = 0;
  server.addService(services().Node.service, {
    Renew: ((_call, cb) => {
      renewals++;
      ctx.auth
        .issueNodeCert({
          deviceId: (JSON.parse(readFileSync(`${dir}/node.json`, "utf8")) as { deviceId: string }).deviceId,
          publicKeySpkiDer: new Uint8Array(other.export({ type: "spki", format: "der" })),
          now: Date.now(),
        })
        .then(
          (c) => cb(null, { certificate: c.certDer, notAfter: c.notAfter }),
          (e: Error) => cb(e, null),
        );
    }) as handleUnaryCall<unknown, unknown>,
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", serverCredentials(ctx.auth), (e, p) => (e ? rej(e) : res(p))));
  try {
    for (const rekey of [true, false]) {
      const e = await renewIfDue(dir, { daemon: `127.0.0.1:${port}`, force: true, rekey }).then(
        () => undefined,
        (x: NodeError) => x,
      );
      assert.ok(e, `a renewed certificate for another key was accepted (rekey: ${rekey})`);
      assert.is(e.code, "BAD_CERTIFICATE");
      assert.match(e.message, /for our key/);
    }
    assert.is(renewals, 2);
    assert.is(readFileSync(`${dir}/cert.pem`, "utf8"), before.cert, "the certificate was replaced");
    assert.is(readFileSync(`${dir}/tls.key`, "utf8"), before.key, "the key was replaced");
  } finally {
    await new Promise<void>((r) => server.tryShutdown(() => r()));
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
