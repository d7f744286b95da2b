/**
 * Ids as the database holds them. SQL text cannot hold U+0000, which the contract allows in an
 * id (tether's own ids use it as a separator), so U+0001 is escaped as U+0001 U+0002 and then
 * U+0000 as U+0001 U+0001. The escape keeps the byte order of ids (COLLATE "C"): a U+0000 still
 * sorts before every other character, a U+0001 before all but U+0000, and a prefix stays a
 * prefix, so range scans and their bounds compare as on LevelDB.
 */
export function sqlId(id: string): string {
  return id.includes("\u0000") || id.includes("\u0001") ? id.replace(/\u0001/g, "\u0001\u0002").replace(/\u0000/g, "\u0001\u0001") : id;
}

/** The id sqlId escaped. */
export function fromSqlId(s: string): string {
  return s.includes("\u0001") ? s.replace(/\u0001([\u0001\u0002])/g, (_, c: string) => (c === "\u0001" ? "\u0000" : "\u0001")) : s;
}
