/**
 * Labels and job scopes: the syntax both share, the checks of a job scope as an admin gives
 * it, and the one text form that the audit log and the CLI show (`own`, `all`, `k=v,k2=v2`).
 */
import { PairingError } from "./errors.js";
import type { JobScope } from "./records.js";

/** A label key or value. */
export const LABEL_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** Labels on one device, and label pairs in one job scope. */
export const MAX_LABELS = 32;

/**
 * A job scope from its wire form: kind `own` (or `""`: none, only the orchestrator's own
 * jobs), `all`, or `labels` with 1..32 KEY=VALUE pairs.
 * @throws PairingError INVALID_ARGUMENT for another kind, labels with `own` or `all`, or bad,
 *   missing or too many labels.
 */
export function parseJobScope(kind: string, labels: Readonly<Record<string, string>> = {}): JobScope | undefined {
  const pairs = Object.entries(labels);
  if (kind === "" || kind === "own" || kind === "all") {
    if (pairs.length) throw new PairingError("INVALID_ARGUMENT", `a job scope of kind "${kind || "own"}" takes no labels`);
    return kind === "all" ? { kind: "all" } : undefined;
  }
  if (kind !== "labels") throw new PairingError("INVALID_ARGUMENT", '"jobScope.kind" must be own, all or labels');
  if (pairs.length === 0 || pairs.length > MAX_LABELS) {
    throw new PairingError("INVALID_ARGUMENT", `a job scope of kind "labels" needs 1..${MAX_LABELS} labels, got ${pairs.length}`);
  }
  for (const [k, v] of pairs) {
    if (!LABEL_RE.test(k) || !LABEL_RE.test(v)) {
      throw new PairingError("INVALID_ARGUMENT", `label ${k}=${v}: keys and values must match [a-z0-9][a-z0-9._-]{0,62}`);
    }
  }
  return { kind: "labels", labels: Object.fromEntries(pairs.sort(([a], [b]) => (a < b ? -1 : 1))) };
}

/** `own`, `all`, or the label pairs as `k=v,k2=v2` (sorted by key). */
export function formatJobScope(scope: JobScope | undefined): string {
  if (!scope) return "own";
  if (scope.kind === "all") return "all";
  return Object.entries(scope.labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** Whether a device with `labels` is in `scope` (an orchestrator's own jobs are not decided here). */
export function jobScopeCovers(scope: JobScope | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (!scope) return false;
  if (scope.kind === "all") return true;
  return Object.entries(scope.labels).every(([k, v]) => labels?.[k] === v);
}
