/**
 * The console's web server (docs/console.md): the page and its assets from this package's
 * static/ folder, the login that trades a one-time token for a session cookie, the JSON API
 * (api.ts) behind guard.ts's checks, and the live list of pending requests as server-sent
 * events. HTTP on loopback; HTTPS (the caller's certificate) anywhere else.
 */
import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Server as HttpsServer } from "node:https";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "@tether/base";
import { ConsoleError, GETS, POSTS, httpError } from "./api.js";
import type { Backend } from "./api.js";
import { allowedHosts, checkHost, checkStateChange, clearedCookie, securityHeaders, sessionCookie, sessionIdOf } from "./guard.js";
import { SESSION_TTL_MS, Sessions } from "./sessions.js";
import type { Session } from "./sessions.js";

/** How often the pending requests are read for the live page while someone watches. */
export const LIVE_INTERVAL_MS = 500;
/** A comment line on each event stream this often, so proxies and browsers keep it open. */
export const KEEPALIVE_MS = 15_000;
/** Event streams open at once; one more is refused with 429. */
export const MAX_EVENT_STREAMS = 32;
/** The largest request body the API reads. */
export const MAX_BODY_BYTES = 64 * 1024;

export type ConsoleOptions = {
  backend: Backend;
  /** the address to listen on (port 0: any free port) */
  host: string;
  port: number;
  /** serve HTTPS with this certificate (required off loopback) */
  tls?: { certPem: string; keyPem: string };
  /** a host name for the URL besides the listen address (the certificate's) */
  publicHost?: string;
  now: () => number;
  random: (n: number) => Uint8Array;
  log: Logger;
  liveIntervalMs?: number;
};

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };

/** static/ beside src/ in a checkout, and beside dist/chunks/ in the installed package (scripts/build.js copies it). */
function staticDir(): string {
  for (const rel of ["../static/", "./static/"]) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, "index.html"))) return dir;
  }
  throw new Error("the console's static files are missing from the package");
}

/** The console's files, read once: name -> [type, body]. */
function loadAssets(): Map<string, [string, Buffer]> {
  const dir = staticDir();
  const files = new Map<string, [string, Buffer]>();
  for (const name of ["index.html", "app.js", "app.css"]) files.set(name, [TYPES[name.slice(name.lastIndexOf("."))] as string, readFileSync(join(dir, name))]);
  return files;
}

const isLoopback = (h: string) => h === "127.0.0.1" || h === "::1" || h === "localhost";

export class ConsoleServer {
  readonly #o: ConsoleOptions;
  readonly #sessions: Sessions;
  readonly #assets = loadAssets();
  readonly #server: Server | HttpsServer;
  readonly #sockets = new Set<Socket>();
  readonly #streams = new Map<ServerResponse, Session>();
  #allowed = new Set<string>();
  #origin = "";
  #live: NodeJS.Timeout | undefined;
  #keepalive: NodeJS.Timeout | undefined;
  #lastPending = "";
  #reading = false;

  constructor(o: ConsoleOptions) {
    if (!isLoopback(o.host) && !o.tls) throw new Error(`the console listens on ${o.host}, beyond loopback, only over TLS`);
    this.#o = o;
    this.#sessions = new Sessions({ now: o.now, random: o.random });
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    this.#server = o.tls ? createHttpsServer({ cert: o.tls.certPem, key: o.tls.keyPem, minVersion: "TLSv1.2" }, handler) : createHttpServer(handler);
    this.#server.headersTimeout = 10_000;
    this.#server.requestTimeout = 30_000;
    this.#server.on("connection", (s: Socket) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
  }

  /** Listen; resolves with the origin the console answers at (e.g. http://127.0.0.1:41235). */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const port = (this.#server.address() as AddressInfo).port;
    this.#allowed = allowedHosts({ host: this.#o.host, port, ...(this.#o.publicHost ? { publicHost: this.#o.publicHost } : {}) });
    const host = this.#o.publicHost ?? this.#o.host;
    this.#origin = `${this.#o.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
    this.#keepalive = setInterval(() => this.#broadcast(": keepalive\n\n"), KEEPALIVE_MS);
    this.#keepalive.unref();
    return this.#origin;
  }

  get origin(): string {
    return this.#origin;
  }

  /** A one-time login URL (LOGIN_TTL_MS) for `tether console` to print. */
  loginUrl(): { url: string; expiresAt: number } {
    const { token, expiresAt } = this.#sessions.mintLogin();
    return { url: `${this.#origin}/login?token=${token}`, expiresAt };
  }

  /** New certificate for new connections (the daemon's renewed one). */
  rotate(tls: { certPem: string; keyPem: string }): void {
    if ("setSecureContext" in this.#server) this.#server.setSecureContext({ cert: tls.certPem, key: tls.keyPem });
  }

  async close(): Promise<void> {
    clearInterval(this.#live);
    clearInterval(this.#keepalive);
    for (const res of this.#streams.keys()) res.end();
    this.#streams.clear();
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  #send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...securityHeaders(Boolean(this.#o.tls)), "content-type": type, ...extra });
    res.end(body);
  }

  #json(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
    this.#send(res, status, "application/json; charset=utf-8", JSON.stringify(value), extra);
  }

  #refuse(res: ServerResponse, e: { status: number; code: string; message: string }, api: boolean): void {
    if (api) this.#json(res, e.status, { error: { status: e.code, message: e.message } });
    else this.#page(res, e.status, e.message);
  }

  /** A page of plain words (no script), for a browser that is not logged in. */
  #page(res: ServerResponse, status: number, message: string): void {
    const safe = message.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    this.#send(
      res,
      status,
      "text/html; charset=utf-8",
      `<!doctype html><html lang="en"><meta charset="utf-8"><title>tether console</title><link rel="stylesheet" href="/assets/app.css"><main class="notice"><h1>tether console</h1><p>${safe}</p><p>Run <code>tether console</code> on the daemon's machine for a new login link.</p></main></html>`,
    );
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    const api = url.pathname.startsWith("/api/");
    try {
      const wrongHost = checkHost(req.headers, this.#allowed);
      if (wrongHost) return this.#refuse(res, wrongHost, api);
      const method = req.method ?? "GET";
      if (method !== "GET" && method !== "HEAD" && method !== "POST") {
        return this.#refuse(res, { status: 405, code: "METHOD_NOT_ALLOWED", message: `${method.slice(0, 10)} is not allowed` }, api);
      }
      if (url.pathname.startsWith("/assets/") && method !== "POST") return this.#asset(res, url.pathname.slice("/assets/".length));
      if (url.pathname === "/login" && method === "GET") return this.#login(res, url.searchParams.get("token") ?? "");
      const session = this.#sessions.session(sessionIdOf(req.headers.cookie));
      if (!session) return this.#refuse(res, { status: 401, code: "NOT_LOGGED_IN", message: "not logged in, or the session has ended" }, api);
      if (method === "POST") {
        const refused = checkStateChange(req.headers, this.#origin, (given) => this.#sessions.csrfOk(session, given));
        if (refused) {
          this.#o.log.warn("console state change refused", { reason: refused.code, path: url.pathname.slice(0, 64) });
          return this.#refuse(res, refused, api);
        }
        if (url.pathname === "/api/logout") {
          this.#sessions.end(session.id);
          return this.#json(res, 200, {}, { "set-cookie": clearedCookie(Boolean(this.#o.tls)) });
        }
        const route = POSTS[url.pathname];
        if (!route) return this.#refuse(res, { status: 404, code: "NOT_FOUND", message: "no such page" }, true);
        const body = await readJson(req);
        return this.#json(res, 200, await route({ backend: this.#o.backend, query: url.searchParams, body }));
      }
      if (url.pathname === "/" || url.pathname === "/index.html") return this.#asset(res, "index.html");
      if (url.pathname === "/api/session") return this.#json(res, 200, { csrf: session.csrf, expiresAt: this.#sessions.expiresAt(session) });
      if (url.pathname === "/api/events") return this.#events(res, session);
      const route = GETS[url.pathname];
      if (!route) return this.#refuse(res, { status: 404, code: "NOT_FOUND", message: "no such page" }, api);
      return this.#json(res, 200, await route({ backend: this.#o.backend, query: url.searchParams, body: undefined }));
    } catch (err) {
      const e = httpError(err);
      if (e.status === 500) this.#o.log.error("console request failed", { path: url.pathname.slice(0, 64), error: (err as Error).message });
      if (!res.headersSent) this.#refuse(res, e, api);
      else res.end();
    }
  }

  #asset(res: ServerResponse, name: string): void {
    const file = this.#assets.get(name);
    if (!file) return this.#refuse(res, { status: 404, code: "NOT_FOUND", message: "no such file" }, false);
    this.#send(res, 200, file[0], file[1]);
  }

  #login(res: ServerResponse, token: string): void {
    const s = this.#sessions.redeem(token);
    if (!s) {
      this.#o.log.warn("console login refused: the link was used, has expired or is wrong");
      return this.#page(res, 403, "This login link has been used already, has expired, or is not one the console made.");
    }
    this.#o.log.info("console login", { sessions: this.#sessions.size.sessions });
    this.#send(res, 303, "text/plain; charset=utf-8", "", { location: "/", "set-cookie": sessionCookie(s.id, SESSION_TTL_MS / 1000, Boolean(this.#o.tls)) });
  }

  /** The pending requests now, then each time they change, as `event: requests`. */
  #events(res: ServerResponse, session: Session): void {
    if (this.#streams.size >= MAX_EVENT_STREAMS) return this.#refuse(res, { status: 429, code: "TOO_MANY_STREAMS", message: "too many open consoles" }, true);
    res.writeHead(200, { ...securityHeaders(Boolean(this.#o.tls)), "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
    res.write("retry: 1000\n\n");
    this.#streams.set(res, session);
    res.on("close", () => {
      this.#streams.delete(res);
      if (this.#streams.size === 0) {
        clearInterval(this.#live);
        this.#live = undefined;
      }
    });
    if (!this.#live) {
      this.#lastPending = ""; // nobody watched: what it holds may be old
      this.#live = setInterval(() => void this.#readPending(), this.#o.liveIntervalMs ?? LIVE_INTERVAL_MS);
      this.#live.unref();
    }
    if (this.#lastPending) res.write(this.#lastPending);
    void this.#readPending();
  }

  async #readPending(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      // A stream whose session has ended (logged out, timed out) is closed.
      for (const [res, s] of this.#streams) if (!this.#sessions.session(s.id)) res.end();
      const r = await this.#o.backend("Admin", "ListRequests", { state: "pending" });
      const event = `event: requests\ndata: ${JSON.stringify(r)}\n\n`;
      if (event !== this.#lastPending) {
        this.#lastPending = event;
        this.#broadcast(event);
      }
    } catch (err) {
      const e = httpError(err);
      this.#broadcast(`event: trouble\ndata: ${JSON.stringify({ status: e.code, message: e.message })}\n\n`);
      this.#lastPending = "";
    } finally {
      this.#reading = false;
    }
  }

  #broadcast(chunk: string): void {
    for (const res of this.#streams.keys()) res.write(chunk);
  }
}

/** The request's body as JSON, at most MAX_BODY_BYTES. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY_BYTES) throw new ConsoleError(413, "TOO_LARGE", `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    throw new ConsoleError(400, "INVALID_ARGUMENT", "the body is not JSON");
  }
}
