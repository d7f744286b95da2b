/**
 * The console's JSON API: each route is one admin-API call (or one per item for several
 * requests at once), the same call a `tether` command makes, so the daemon checks, audits and
 * refuses it exactly as it does for the CLI. This module only shapes the bodies and turns the
 * daemon's gRPC status into an HTTP one.
 */
import { createRequire } from "node:module";

/** One admin-API call over the daemon's admin socket; rejects with the gRPC status `code` and `details`. */
export type Backend = (service: "Admin" | "Orchestrator", method: string, req: object) => Promise<unknown>;

/** Requests approved or rejected in one click, at most. */
export const MAX_BATCH = 100;
/** Audit entries on one page of the console. */
export const AUDIT_PAGE = 200;

export class ConsoleError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ConsoleError";
    this.status = status;
    this.code = code;
  }
}

/** gRPC status number -> [HTTP status, name] (the daemon's message goes with it). */
const GRPC_TO_HTTP: Record<number, [number, string]> = {
  3: [400, "INVALID_ARGUMENT"],
  4: [504, "DEADLINE_EXCEEDED"],
  5: [404, "NOT_FOUND"],
  6: [409, "ALREADY_EXISTS"],
  7: [403, "PERMISSION_DENIED"],
  8: [429, "RESOURCE_EXHAUSTED"],
  9: [409, "FAILED_PRECONDITION"],
  10: [409, "ABORTED"],
  14: [503, "UNAVAILABLE"],
  16: [403, "UNAUTHENTICATED"],
};

/** The HTTP form of a failed call: the daemon's own (safe) message for a status it chose; "internal error" for anything else. */
export function httpError(err: unknown): ConsoleError {
  if (err instanceof ConsoleError) return err;
  const e = err as { code?: unknown; details?: unknown };
  const mapped = typeof e.code === "number" ? GRPC_TO_HTTP[e.code] : undefined;
  if (mapped && typeof e.details === "string") return new ConsoleError(mapped[0], mapped[1], e.details);
  return new ConsoleError(500, "INTERNAL", "internal error");
}

const bad = (message: string) => new ConsoleError(400, "INVALID_ARGUMENT", message);

function object(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("the body must be a JSON object");
  return body as Record<string, unknown>;
}

function text(o: Record<string, unknown>, key: string, max = 200): string {
  const v = o[key] ?? "";
  if (typeof v !== "string") throw bad(`"${key}" must be a string`);
  if (v.length > max) throw bad(`"${key}" must be at most ${max} characters`);
  return v;
}

function whole(o: Record<string, unknown>, key: string, max: number): number {
  const v = o[key] ?? 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw bad(`"${key}" must be a whole number from 0 to ${max}`);
  return v;
}

/** `items`: 1..MAX_BATCH objects with a string `id` (and for approvals an optional `code`). */
function items(o: Record<string, unknown>): { id: string; code: string }[] {
  const list = o.items;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCH) throw bad(`"items" must be a list of 1 to ${MAX_BATCH} requests`);
  return list.map((x) => {
    const i = object(x);
    return { id: text(i, "id", 64), code: text(i, "code", 16) };
  });
}

const QRCode = { get: (): typeof import("qrcode") => createRequire(import.meta.url)("qrcode") as typeof import("qrcode") };

/** The pairing URI as an SVG image for the page (error correction M, the standard quiet zone). */
export async function qrSvg(uri: string): Promise<string> {
  return QRCode.get().toString(uri, { type: "svg", errorCorrectionLevel: "M", margin: 4 });
}

/** What each item of a batch came to: the request as it now is, or why not. */
type Outcome = { id: string; ok: true; request: unknown } | { id: string; ok: false; status: string; error: string };

async function each(list: { id: string; code: string }[], call: (i: { id: string; code: string }) => Promise<unknown>): Promise<{ results: Outcome[] }> {
  const results: Outcome[] = [];
  for (const i of list) {
    try {
      results.push({ id: i.id, ok: true, request: await call(i) });
    } catch (err) {
      const e = httpError(err);
      results.push({ id: i.id, ok: false, status: e.code, error: e.message });
    }
  }
  return { results };
}

/** Devices without their certificates' PEM (the page shows fingerprints; a fleet's PEMs are megabytes). */
function slimDevices(r: unknown): unknown {
  const list = (r as { devices?: Record<string, unknown>[] }).devices ?? [];
  return { devices: list.map(({ certificatePem: _pem, identityKey: _key, ...rest }) => rest) };
}

export type Route = (o: { backend: Backend; query: URLSearchParams; body: unknown }) => Promise<unknown>;

/** GET routes, by path. */
export const GETS: Record<string, Route> = {
  "/api/status": async ({ backend }) => backend("Admin", "Status", {}),
  "/api/requests": async ({ backend, query }) => backend("Admin", "ListRequests", { state: query.get("state") ?? "" }),
  "/api/devices": async ({ backend }) => slimDevices(await backend("Admin", "ListDevices", {})),
  "/api/jobs": async ({ backend, query }) => {
    const limit = Number(query.get("limit") ?? "200");
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw bad("limit must be 1..1000");
    return backend("Orchestrator", "ListJobs", { state: query.get("state") ?? "", deviceId: query.get("device") ?? "", limit });
  },
  "/api/audit": async ({ backend, query }) => {
    const before = Number(query.get("before") ?? "0");
    if (!Number.isSafeInteger(before) || before < 0) throw bad("before must be a sequence number");
    return backend("Admin", "ListAudit", { since: 0, limit: AUDIT_PAGE, before });
  },
  "/api/audit/verify": async ({ backend }) => backend("Admin", "VerifyAudit", {}),
};

/** POST routes, by path: each a state change (the guard has checked its origin and CSRF token). */
export const POSTS: Record<string, Route> = {
  "/api/requests/approve": async ({ backend, body }) => {
    const o = object(body);
    const role = text(o, "role", 32);
    return each(items(o), (i) => backend("Admin", "ApproveRequest", { id: i.id, role, code: i.code }));
  },
  "/api/requests/reject": async ({ backend, body }) => {
    const o = object(body);
    const reason = text(o, "reason", 200);
    return each(items(o), (i) => backend("Admin", "RejectRequest", { id: i.id, reason }));
  },
  "/api/codes": async ({ backend, body }) => {
    const o = object(body);
    const method = text(o, "method", 8);
    if (method !== "pin" && method !== "qr") throw bad('"method" must be "pin" or "qr"');
    const minted = (await backend("Admin", "CreateCode", { method, ttlSeconds: whole(o, "ttlSeconds", 3600), role: text(o, "role", 32) })) as { code: string };
    return method === "qr" ? { ...minted, qrSvg: await qrSvg(minted.code) } : minted;
  },
  "/api/devices/revoke": async ({ backend, body }) => {
    const o = object(body);
    return backend("Admin", "RevokeDevice", { id: text(o, "id", 64), reason: text(o, "reason", 200) });
  },
  "/api/devices/rotate": async ({ backend, body }) => backend("Admin", "RotateDevice", { id: text(object(body), "id", 64) }),
  "/api/jobs/cancel": async ({ backend, body }) => {
    const o = object(body);
    return backend("Orchestrator", "CancelJob", { id: text(o, "id", 64), reason: text(o, "reason", 200) });
  },
};
