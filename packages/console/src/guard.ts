/**
 * What every console request must pass before a route sees it (docs/console.md, "What the
 * console refuses"): the Host it names (against DNS rebinding), a live session cookie, and for
 * every state change its own Origin, `Sec-Fetch-Site: same-origin` when the browser sends it,
 * a JSON body and the session's CSRF token. Also the headers every answer carries. Pure: no
 * I/O, so each rule is unit-tested alone.
 */
import type { IncomingHttpHeaders } from "node:http";

/** The session cookie's name. */
export const SESSION_COOKIE = "tether_console";
/** The header a state change carries its CSRF token in. */
export const CSRF_HEADER = "x-csrf-token";

/** The Content-Security-Policy of every answer: scripts, styles and fetches from the console only; nothing inline, no frames. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers on every answer, page or API. */
export function securityHeaders(tls: boolean): Record<string, string> {
  return {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
    ...(tls ? { "strict-transport-security": "max-age=31536000" } : {}),
  };
}

/** The Set-Cookie value of a new session (HttpOnly, SameSite=Strict; Secure over TLS). */
export function sessionCookie(id: string, maxAgeSeconds: number, tls: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${tls ? "; Secure" : ""}`;
}

/** The Set-Cookie value that ends a session in the browser. */
export function clearedCookie(tls: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${tls ? "; Secure" : ""}`;
}

/** The session id in a Cookie header, if there is one. */
export function sessionIdOf(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Host values the console answers to: its own address under each loopback name, and the public host it was given. */
export function allowedHosts(o: { host: string; port: number; publicHost?: string }): Set<string> {
  const names = new Set<string>();
  const add = (h: string) => names.add(`${h.includes(":") ? `[${h}]` : h}:${o.port}`.toLowerCase());
  const loopback = o.host === "127.0.0.1" || o.host === "::1" || o.host === "localhost";
  if (loopback) ["127.0.0.1", "localhost", "::1"].forEach(add);
  else add(o.host);
  if (o.publicHost) add(o.publicHost);
  return names;
}

export type Refusal = { status: number; code: string; message: string };

/** A request whose Host is not the console's (a DNS-rebinding page, or a wrong address). */
export function checkHost(headers: IncomingHttpHeaders, allowed: Set<string>): Refusal | undefined {
  const host = (headers.host ?? "").toLowerCase();
  if (allowed.has(host)) return undefined;
  return { status: 421, code: "WRONG_HOST", message: "this console answers only at the address tether console printed" };
}

/**
 * A state change that is not the console's own page calling its own API. Checked before the
 * CSRF token, so that a cross-site form is named as such.
 */
export function checkStateChange(headers: IncomingHttpHeaders, origin: string, csrfOk: (given: string | undefined) => boolean): Refusal | undefined {
  const from = headers.origin;
  if (from !== origin) {
    return { status: 403, code: "CROSS_ORIGIN", message: from ? "a state change from another origin is refused" : "a state change without an Origin header is refused" };
  }
  const site = headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin") return { status: 403, code: "CROSS_ORIGIN", message: `a state change from a ${site} page is refused` };
  const type = (headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") return { status: 415, code: "NOT_JSON", message: "a state change must send application/json" };
  const token = headers[CSRF_HEADER];
  if (!csrfOk(typeof token === "string" ? token : undefined)) return { status: 403, code: "CSRF", message: "missing or wrong CSRF token: reload the page" };
  return undefined;
}
