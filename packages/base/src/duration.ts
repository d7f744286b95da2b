/** Durations as operators type them: 90s, 30m, 12h, 7d (and, where allowed, bare seconds or 500ms). */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Milliseconds for "90s", "30m", "12h" or "7d" (bare digits as seconds when `bareSeconds`,
 * "500ms" when `milliseconds`); undefined otherwise.
 */
export function parseDurationMs(text: string, o: { bareSeconds?: boolean; milliseconds?: boolean } = {}): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m || (!m[2] && !o.bareSeconds) || (m[2] === "ms" && !o.milliseconds)) return undefined;
  return Number(m[1]) * UNIT_MS[(m[2] ?? "s") as keyof typeof UNIT_MS];
}
