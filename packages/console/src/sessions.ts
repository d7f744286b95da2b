/**
 * The console's logins and sessions (docs/console.md): pure logic, the clock and the
 * randomness injected. `tether console` mints a login token; the browser that opens the URL
 * first redeems it, once, for a session (a cookie) and that session's CSRF token. Nothing is
 * stored: a daemon restart logs every browser out.
 */
import { constantTimeEqual, toBase64Url, utf8 } from "@tether/crypto";

/** A login URL works once, and only this long after `tether console` printed it. */
export const LOGIN_TTL_MS = 2 * 60_000;
/** A session ends this long after its login, whatever it does, */
export const SESSION_TTL_MS = 12 * 60 * 60_000;
/** and this long after its last request. */
export const SESSION_IDLE_MS = 60 * 60_000;
/** Unused login tokens held at once (each `tether console` adds one); the oldest go first. */
export const MAX_PENDING_LOGINS = 64;
/** Sessions held at once; the least recently used go first. */
export const MAX_SESSIONS = 64;
/** Bytes of randomness in a login token, a session id and a CSRF token. */
export const TOKEN_BYTES = 32;
/** A token as the console hands it out: base64url of TOKEN_BYTES bytes. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type Session = { readonly id: string; readonly csrf: string; readonly createdAt: number; lastUsed: number };

export type SessionsOptions = { now: () => number; random: (n: number) => Uint8Array };

/** The same text, compared in constant time (for tokens of equal length). */
export function sameToken(a: string, b: string): boolean {
  return a.length === b.length && constantTimeEqual(utf8(a), utf8(b));
}

export class Sessions {
  readonly #o: SessionsOptions;
  /** login token -> when it stops working */
  readonly #logins = new Map<string, number>();
  readonly #sessions = new Map<string, Session>();

  constructor(o: SessionsOptions) {
    this.#o = o;
  }

  #token(): string {
    return toBase64Url(this.#o.random(TOKEN_BYTES));
  }

  /** A new single-use login token and when it expires. */
  mintLogin(): { token: string; expiresAt: number } {
    const now = this.#o.now();
    this.#prune(now);
    while (this.#logins.size >= MAX_PENDING_LOGINS) this.#logins.delete(this.#logins.keys().next().value as string);
    const token = this.#token();
    const expiresAt = now + LOGIN_TTL_MS;
    this.#logins.set(token, expiresAt);
    return { token, expiresAt };
  }

  /**
   * Trade a login token for a new session: undefined when the token is unknown, used or
   * expired. A token works once whether or not the session it made is still alive.
   */
  redeem(token: string): Session | undefined {
    const now = this.#o.now();
    this.#prune(now);
    if (!TOKEN_PATTERN.test(token)) return undefined;
    let found: string | undefined;
    for (const t of this.#logins.keys()) if (sameToken(t, token)) found = t;
    if (found === undefined) return undefined;
    this.#logins.delete(found);
    while (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value as string);
    const s: Session = { id: this.#token(), csrf: this.#token(), createdAt: now, lastUsed: now };
    this.#sessions.set(s.id, s);
    return s;
  }

  /** The live session with this id (and it counts as used now), or undefined. */
  session(id: string | undefined): Session | undefined {
    if (id === undefined || !TOKEN_PATTERN.test(id)) return undefined;
    const now = this.#o.now();
    this.#prune(now);
    const s = this.#sessions.get(id);
    if (!s) return undefined;
    s.lastUsed = now;
    this.#sessions.delete(id); // re-insert: the map's order is least recently used first
    this.#sessions.set(id, s);
    return s;
  }

  /** Whether `given` is the session's CSRF token (constant time). */
  csrfOk(s: Session, given: string | undefined): boolean {
    return given !== undefined && sameToken(s.csrf, given);
  }

  /** End a session (log out). */
  end(id: string): void {
    this.#sessions.delete(id);
  }

  /** The session's absolute end. */
  expiresAt(s: Session): number {
    return Math.min(s.createdAt + SESSION_TTL_MS, s.lastUsed + SESSION_IDLE_MS);
  }

  get size(): { logins: number; sessions: number } {
    return { logins: this.#logins.size, sessions: this.#sessions.size };
  }

  #prune(now: number): void {
    for (const [t, exp] of this.#logins) if (exp <= now) this.#logins.delete(t);
    for (const [id, s] of this.#sessions) if (this.expiresAt(s) <= now) this.#sessions.delete(id);
  }
}
