// The light peer certificate the node listener gives each TLS 1.3 connection
// (packages/daemon/src/tls.ts, lightPeerCertificate): the fields the daemon reads are the ones
// Node's own conversion gives, every other field too (converted on first read), the detailed
// form and TLS 1.2 connections are Node's, and a peer without a certificate gets Node's answer.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { TLSSocket, connect, createServer } from "node:tls";
import type { PeerCertificate } from "node:tls";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CertificateAuthority, createRootCa, derToPem, generateP256KeyPair } from "@tether/ca";
import { lightPeerCertificate } from "../packages/daemon/src/tls.ts";

const P = suite("light peer certificate");
const rng = (n: number) => new Uint8Array(randomBytes(n));
const pem = (der: Uint8Array) => derToPem(der, "CERTIFICATE");
const keyPem = (pkcs8: Uint8Array) => derToPem(pkcs8, "PRIVATE KEY");

/** A server socket for one connection (TLS `maxVersion`, with or without a client certificate), and Node's own answers for it. */
async function accepted(o: { maxVersion: "TLSv1.3" | "TLSv1.2"; clientCert: boolean }) {
  const now = Date.now();
  const ca = await CertificateAuthority.load(await createRootCa({ commonName: "t", now, randomBytes: rng }));
  const sk = await generateP256KeyPair();
  const nk = await generateP256KeyPair();
  const serverCert = await ca.issueServerCert({ publicKeySpkiDer: sk.publicKeySpkiDer, hosts: ["localhost"], now, randomBytes: rng });
  const nodeCert = await ca.issueNodeCert({ deviceId: "dev_test", publicKeySpkiDer: nk.publicKeySpkiDer, now, randomBytes: rng });
  const server = createServer({
    key: keyPem(sk.privateKeyPkcs8Der),
    cert: pem(serverCert),
    ca: pem(ca.certDer),
    requestCert: true,
    rejectUnauthorized: false,
    maxVersion: o.maxVersion,
  });
  const got = once(server, "secureConnection") as Promise<[TLSSocket]>;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const client = connect({
    port,
    host: "127.0.0.1",
    ca: pem(ca.certDer),
    checkServerIdentity: () => undefined,
    ...(o.clientCert ? { key: keyPem(nk.privateKeyPkcs8Der), cert: pem(nodeCert.certDer) } : {}),
  });
  client.on("error", () => undefined);
  const [socket] = await got;
  const node = (detailed: boolean) => TLSSocket.prototype.getPeerCertificate.call(socket, detailed) as PeerCertificate;
  return {
    socket,
    node,
    close: () => {
      client.destroy();
      socket.destroy();
      server.close();
    },
  };
}

P("TLS 1.3: the fields the daemon reads are Node's, so are the others, and the detailed form is Node's own", async () => {
  const c = await accepted({ maxVersion: "TLSv1.3", clientCert: true });
  try {
    lightPeerCertificate(c.socket);
    const light = c.socket.getPeerCertificate();
    const full = c.node(false);
    assert.ok(Buffer.isBuffer(light.raw) && light.raw.equals(full.raw), "raw");
    for (const k of ["fingerprint256", "valid_from", "valid_to"] as const) assert.is(light[k], full[k], k);
    for (const k of [
      "subject",
      "issuer",
      "subjectaltname",
      "fingerprint",
      "fingerprint512",
      "serialNumber",
      "ext_key_usage",
      "pubkey",
      "asn1Curve",
      "nistCurve",
      "bits",
    ] as const) {
      assert.equal(light[k as keyof PeerCertificate], full[k as keyof PeerCertificate], k);
    }
    assert.ok(c.socket.getPeerCertificate() === light, "made once per connection");
    assert.match(light.subjectaltname ?? "", /URI:urn:tether:device:dev_test/);
    const detailed = c.socket.getPeerCertificate(true) as PeerCertificate & { issuerCertificate?: PeerCertificate };
    assert.ok(detailed.issuerCertificate, "the detailed form is Node's, with the chain");
  } finally {
    c.close();
  }
});

P("TLS 1.2 connections and peers without a certificate keep Node's answers", async () => {
  const old = await accepted({ maxVersion: "TLSv1.2", clientCert: true });
  try {
    lightPeerCertificate(old.socket);
    assert.ok(!Object.prototype.hasOwnProperty.call(old.socket, "getPeerCertificate"), "TLS 1.2: untouched");
  } finally {
    old.close();
  }
  const none = await accepted({ maxVersion: "TLSv1.3", clientCert: false });
  try {
    lightPeerCertificate(none.socket);
    assert.equal(none.socket.getPeerCertificate(), none.node(false), "no certificate: Node's empty answer");
  } finally {
    none.close();
  }
});

P.run();
