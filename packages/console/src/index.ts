/** @tether/console: the web console the daemon serves (docs/console.md). */
export { AUDIT_PAGE, ConsoleError, GETS, MAX_BATCH, POSTS, httpError, qrSvg } from "./api.js";
export type { Backend } from "./api.js";
export { CONTENT_SECURITY_POLICY, CSRF_HEADER, SESSION_COOKIE, allowedHosts, checkHost, checkStateChange, securityHeaders, sessionCookie, sessionIdOf } from "./guard.js";
export { KEEPALIVE_MS, LIVE_INTERVAL_MS, MAX_BODY_BYTES, MAX_EVENT_STREAMS, ConsoleServer } from "./server.js";
export type { ConsoleOptions } from "./server.js";
export { LOGIN_TTL_MS, MAX_PENDING_LOGINS, MAX_SESSIONS, SESSION_IDLE_MS, SESSION_TTL_MS, Sessions, TOKEN_PATTERN } from "./sessions.js";
export type { Session } from "./sessions.js";
