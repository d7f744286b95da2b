/**
 * The CPace string encodings (draft-irtf-cfrg-cpace, Section 5.3 and Appendix A):
 * LEB128 length prefixes, lv_cat, o_cat and the two transcript forms.
 */
import { concat } from "./bytes.js";

/** LEB128 encoding of a non-negative length. */
export function leb128(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v > 0) byte |= 0x80;
    out.push(byte);
  } while (v > 0);
  return Uint8Array.from(out);
}

/** prepend_len(x) = LEB128(len(x)) || x */
export function prependLen(x: Uint8Array): Uint8Array {
  return concat(leb128(x.length), x);
}

/** lv_cat(a0, a1, ...) = prepend_len(a0) || prepend_len(a1) || ... */
export function lvCat(...parts: Uint8Array[]): Uint8Array {
  return concat(...parts.map(prependLen));
}

/**
 * The draft's lexiographically_larger(a, b): byte-wise comparison, where a string that is a
 * prefix of the other counts as smaller.
 */
export function lexicographicallyLarger(a: Uint8Array, b: Uint8Array): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x > y) return true;
    if (x < y) return false;
  }
  return a.length > b.length;
}

/** o_cat(a, b) = "oc" || max(a, b) || min(a, b) */
export function oCat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const oc = Uint8Array.of(0x6f, 0x63);
  return lexicographicallyLarger(a, b) ? concat(oc, a, b) : concat(oc, b, a);
}

/** transcript_ir(Ya, ADa, Yb, ADb) = lv_cat(Ya, ADa) || lv_cat(Yb, ADb) */
export function transcriptIr(ya: Uint8Array, ada: Uint8Array, yb: Uint8Array, adb: Uint8Array): Uint8Array {
  return concat(lvCat(ya, ada), lvCat(yb, adb));
}

/** transcript_oc(Ya, ADa, Yb, ADb) = o_cat(lv_cat(Ya, ADa), lv_cat(Yb, ADb)) */
export function transcriptOc(ya: Uint8Array, ada: Uint8Array, yb: Uint8Array, adb: Uint8Array): Uint8Array {
  return oCat(lvCat(ya, ada), lvCat(yb, adb));
}
