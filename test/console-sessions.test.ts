/**
 * The console's pure parts (docs/console.md): logins and sessions under a fake clock, and the
 * guard's rules one by one. The browser test (console-browser.test.ts) shows them end to end.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import {
  LOGIN_TTL_MS,
  MAX_PENDING_LOGINS,
  SESSION_IDLE_MS,
  SESSION_TTL_MS,
  Sessions,
  allowedHosts,
  checkHost,
  checkStateChange,
  httpError,
  sessionCookie,
  sessionIdOf,
} from "@tether/console";

const S = suite("console sessions and guard");

function clock(start = 1_800_000_000_000) {
  let t = start;
  return { now: () => t, step: (ms: number) => (t += ms) };
}
const make = (c = clock()) => ({ c, s: new Sessions({ now: c.now, random: (n) => new Uint8Array(randomBytes(n)) }) });

S("a login token works once, only within its lifetime, and the session it makes has its own CSRF token", () => {
  const { c, s } = make();
  const a = s.mintLogin();
  assert.is(a.expiresAt, c.now() + LOGIN_TTL_MS);
  const session = s.redeem(a.token);
  assert.ok(session);
  assert.is.not(session.id, a.token);
  assert.is.not(session.csrf, session.id);
  assert.is(s.redeem(a.token), undefined, "used once");
  const b = s.mintLogin();
  c.step(LOGIN_TTL_MS);
  assert.is(s.redeem(b.token), undefined, "expired at its end");
  assert.is(s.redeem("x".repeat(43)), undefined, "not one it made");
  assert.is(s.redeem(""), undefined);
  assert.ok(s.session(session.id), "the session outlives the token's lifetime");
});

S("a session ends after an idle hour or 12 hours in all, and at logout", () => {
  const { c, s } = make();
  const idle = s.redeem(s.mintLogin().token);
  assert.ok(idle);
  c.step(SESSION_IDLE_MS - 1);
  assert.ok(s.session(idle.id), "used just before the idle limit");
  c.step(SESSION_IDLE_MS - 1);
  assert.ok(s.session(idle.id), "each use moves the idle limit");
  c.step(SESSION_IDLE_MS);
  assert.is(s.session(idle.id), undefined, "idle too long");

  const busy = s.redeem(s.mintLogin().token);
  assert.ok(busy);
  for (let t = 0; t < SESSION_TTL_MS - 30 * 60_000; t += 30 * 60_000) {
    c.step(30 * 60_000);
    assert.ok(s.session(busy.id));
  }
  c.step(30 * 60_000);
  assert.is(s.session(busy.id), undefined, "12 hours after its login, however busy");

  const out = s.redeem(s.mintLogin().token);
  assert.ok(out);
  s.end(out.id);
  assert.is(s.session(out.id), undefined);
  assert.is(s.session(undefined), undefined);
  assert.is(s.session("short"), undefined);
});

S("the CSRF check wants the session's own token", () => {
  const { s } = make();
  const a = s.redeem(s.mintLogin().token);
  const b = s.redeem(s.mintLogin().token);
  assert.ok(a && b);
  assert.ok(s.csrfOk(a, a.csrf));
  assert.not.ok(s.csrfOk(a, b.csrf), "another session's token");
  assert.not.ok(s.csrfOk(a, undefined));
  assert.not.ok(s.csrfOk(a, a.csrf.slice(1)));
});

S("unused login tokens are capped: the oldest stops working", () => {
  const { s } = make();
  const first = s.mintLogin();
  for (let i = 0; i < MAX_PENDING_LOGINS; i++) s.mintLogin();
  assert.is(s.size.logins, MAX_PENDING_LOGINS);
  assert.is(s.redeem(first.token), undefined);
});

S("the guard: Host, Origin, Sec-Fetch-Site, content type and CSRF token, each refused alone", () => {
  const allowed = allowedHosts({ host: "127.0.0.1", port: 4000 });
  assert.equal([...allowed].sort(), ["127.0.0.1:4000", "[::1]:4000", "localhost:4000"]);
  assert.is(checkHost({ host: "127.0.0.1:4000" }, allowed), undefined);
  assert.is(checkHost({ host: "LOCALHOST:4000" }, allowed), undefined);
  assert.is(checkHost({ host: "evil.example:4000" }, allowed)?.status, 421);
  assert.is(checkHost({ host: "127.0.0.1:4001" }, allowed)?.status, 421);
  assert.is(checkHost({}, allowed)?.status, 421);
  const remote = allowedHosts({ host: "0.0.0.0", port: 8443, publicHost: "tether.lan" });
  assert.ok(remote.has("tether.lan:8443"));
  assert.not.ok(remote.has("localhost:8443"), "off loopback, only the certificate's name");

  const origin = "http://127.0.0.1:4000";
  const ok = { origin, "sec-fetch-site": "same-origin", "content-type": "application/json; charset=utf-8", "x-csrf-token": "t" };
  const csrf = (g: string | undefined) => g === "t";
  assert.is(checkStateChange(ok, origin, csrf), undefined);
  assert.is(checkStateChange({ ...ok, "sec-fetch-site": undefined }, origin, csrf), undefined, "an older browser without Sec-Fetch-*");
  assert.is(checkStateChange({ ...ok, origin: undefined }, origin, csrf)?.code, "CROSS_ORIGIN");
  assert.is(checkStateChange({ ...ok, origin: "http://127.0.0.1:4001" }, origin, csrf)?.code, "CROSS_ORIGIN");
  assert.is(checkStateChange({ ...ok, origin: "null" }, origin, csrf)?.code, "CROSS_ORIGIN");
  assert.is(checkStateChange({ ...ok, "sec-fetch-site": "same-site" }, origin, csrf)?.code, "CROSS_ORIGIN");
  assert.is(checkStateChange({ ...ok, "content-type": "text/plain" }, origin, csrf)?.status, 415);
  assert.is(checkStateChange({ ...ok, "x-csrf-token": undefined }, origin, csrf)?.code, "CSRF");
  assert.is(checkStateChange({ ...ok, "x-csrf-token": "u" }, origin, csrf)?.code, "CSRF");
});

S("the session cookie: HttpOnly, SameSite=Strict, Secure over TLS; read back from a Cookie header", () => {
  assert.is(sessionCookie("abc", 60, false), "tether_console=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
  assert.match(sessionCookie("abc", 60, true), /; Secure$/);
  assert.is(sessionIdOf("a=1; tether_console=xyz; b=2"), "xyz");
  assert.is(sessionIdOf("tether_console_x=1"), undefined);
  assert.is(sessionIdOf(undefined), undefined);
});

S("a daemon refusal keeps its status and words; anything else is an internal error", () => {
  assert.equal([httpError({ code: 5, details: "no device dev_x" }).status, httpError({ code: 5, details: "no device dev_x" }).message], [404, "no device dev_x"]);
  assert.is(httpError({ code: 9, details: "x" }).status, 409);
  assert.is(httpError({ code: 3, details: "x" }).status, 400);
  const internal = httpError(new Error("ECONNREFUSED /secret/path"));
  assert.equal([internal.status, internal.message], [500, "internal error"]);
});

S.run();
