/**
 * The console as `tether daemon` serves it (docs/console.md, "Where it listens"): beyond
 * loopback only over HTTPS, with a certificate the daemon's CA issued, and refused when that
 * certificate would not name the host in the URL; the headers every answer carries; the
 * console stops with the daemon. Real daemon processes, real TLS.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { ConsoleServer } from "@tether/console";
import { silentLogger } from "@tether/base";
import { cli, startDaemonProcess, stopDaemonProcess, tempDir } from "./helpers.ts";

const ctx = {} as { tmp: ReturnType<typeof tempDir> };
const C = suite("console served by the daemon");
C.before(() => {
  ctx.tmp = tempDir();
});
C.after(() => ctx.tmp.remove());

type Answer = { status: number; headers: Record<string, string | string[] | undefined>; peerCert?: X509Certificate };

function get(url: string, o: { ca?: string; cookie?: string } = {}): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const headers = o.cookie ? { cookie: o.cookie } : {};
    const done = (res: import("node:http").IncomingMessage) => {
      const sock = res.socket as import("node:tls").TLSSocket;
      const raw = typeof sock.getPeerCertificate === "function" ? sock.getPeerCertificate().raw : undefined;
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, ...(raw ? { peerCert: new X509Certificate(raw) } : {}) }));
    };
    const req = u.protocol === "https:" ? httpsRequest(u, { headers, ...(o.ca ? { ca: o.ca } : {}) }, done) : httpRequest(u, { headers }, done);
    req.on("error", reject);
    req.end();
  });
}

C("beyond loopback the console is HTTPS with a certificate from the daemon's CA, and plain HTTP gets nothing", async () => {
  const data = join(ctx.tmp.path, "remote");
  const { d } = await startDaemonProcess(data, ["--console", "0.0.0.0:0"]);
  try {
    const r = await cli(["console", "--json", "--data-dir", data]);
    assert.is(r.code, 0, r.stderr);
    const { url } = JSON.parse(r.stdout) as { url: string };
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/login\?token=/, "the advertised host, over https");
    const ca = readFileSync(join(data, "ca", "ca.pem"), "utf8");
    const login = await get(url, { ca });
    assert.is(login.status, 303);
    assert.ok(login.peerCert?.checkIssued(new X509Certificate(ca)), "the console's certificate is issued by the daemon's CA");
    const cookie = String(login.headers["set-cookie"]);
    assert.match(cookie, /; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/, "Secure over TLS");
    const page = await get(url.replace(/\/login\?.*$/, "/"), { ca, cookie: cookie.split(";")[0] as string });
    assert.is(page.status, 200);
    assert.match(String(page.headers["content-security-policy"]), /script-src 'self'/);
    assert.is(page.headers["strict-transport-security"], "max-age=31536000");
    // Without the CA, a client refuses the certificate; without TLS, nothing answers.
    await get(url).then(
      () => assert.unreachable("a client that does not trust the daemon's CA connected"),
      (e: Error) => assert.match(e.message, /self.signed|unable to verify|certificate/i),
    );
    await get(url.replace("https:", "http:")).then(
      (a) => assert.unreachable(`plain HTTP got ${a.status}`),
      () => undefined,
    );
  } finally {
    await stopDaemonProcess(d);
  }
});

C("a console host the daemon's certificate does not name is refused (exit 5), and nothing is printed on stdout", async () => {
  const data = join(ctx.tmp.path, "unnamed");
  const { d } = await startDaemonProcess(data, ["--console", "127.0.0.2:0"]);
  try {
    const r = await cli(["console", "--data-dir", data]);
    assert.is(r.code, 5, r.stderr);
    assert.match(r.stderr, /does not name.*--advertise/s);
    assert.is(r.stdout, "");
  } finally {
    await stopDaemonProcess(d);
  }
});

C("the console refuses to listen beyond loopback without TLS", () => {
  assert.throws(
    () => new ConsoleServer({ backend: async () => ({}), host: "0.0.0.0", port: 0, now: Date.now, random: (n) => new Uint8Array(n), log: silentLogger }),
    /only over TLS/,
  );
});

C("on loopback: plain HTTP, the same port for every link until the daemon stops, and gone with it", async () => {
  const data = join(ctx.tmp.path, "local");
  const { d } = await startDaemonProcess(data);
  const link = async () => {
    const r = await cli(["console", "--json", "--data-dir", data]);
    assert.is(r.code, 0, r.stderr);
    return new URL((JSON.parse(r.stdout) as { url: string }).url);
  };
  const a = await link();
  const b = await link();
  assert.is(a.origin, b.origin, "one console");
  assert.is.not(a.searchParams.get("token"), b.searchParams.get("token"), "a new token each time");
  assert.is((await get(b.href)).status, 303);
  assert.is((await get(a.href)).status, 303, "each link works once, in any order");
  const text = await cli(["console", "--data-dir", data]);
  assert.match(text.stdout, /^Open this link in a browser on this machine \(it works once, until .*\):\n\n {2}http:\/\/127\.0\.0\.1:\d+\/login\?token=[\w-]{43}\n$/);
  await stopDaemonProcess(d);
  await get(a.origin + "/").then(
    (x) => assert.unreachable(`the console still answered ${x.status} after the daemon stopped`),
    () => undefined,
  );
});

C.run();
