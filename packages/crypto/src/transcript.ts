/**
 * tether transcripts: a domain tag and a list of fields, each prefixed with its length as a
 * 4-byte big-endian integer, so that no two different field lists encode to the same bytes.
 */
import { concat, u32be, utf8 } from "./bytes.js";

/** transcript(tag, fields) = u32(len tag) || tag || (u32(len f) || f)* */
export function transcript(tag: string, fields: readonly (Uint8Array | string)[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const t = utf8(tag);
  parts.push(u32be(t.length), t);
  for (const f of fields) {
    const b = typeof f === "string" ? utf8(f) : f;
    parts.push(u32be(b.length), b);
  }
  return concat(...parts);
}
