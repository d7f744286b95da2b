/** Durations as operators type them: 90s, 30m, 12h, 7d (and, where allowed, bare seconds). */
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds for "90s", "30m", "12h" or "7d" (bare digits as seconds when `bareSeconds`); undefined otherwise. */
export function parseDurationMs(text: string, o: { bareSeconds?: boolean } = {}): number | undefined {
  const m = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!m || (!m[2] && !o.bareSeconds)) return undefined;
  return Number(m[1]) * UNIT_MS[(m[2] ?? "s") as keyof typeof UNIT_MS];
}
