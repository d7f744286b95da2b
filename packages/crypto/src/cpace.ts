/**
 * CPace, suite CPACE-X25519-SHA512 (draft-irtf-cfrg-cpace-20): generator derivation with
 * Elligator 2, scalar_mult_vfy, and the intermediate session key. Pure: the caller supplies
 * the random scalars, so the module can be checked against the draft's vectors.
 */
import { _map_to_curve_elligator2_curve25519 } from "@noble/curves/ed25519.js";
import { Field } from "@noble/curves/abstract/modular.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { bytes, concat, utf8 } from "./bytes.js";
import { CryptoError } from "./errors.js";
import { lvCat, prependLen, transcriptIr } from "./lv.js";
import { x25519Native } from "./native.js";

/** Domain separation identifier of the X25519 suite. */
export const CPACE_DSI = utf8("CPace255");
/** SHA-512 input block size, used for the generator string's zero padding. */
export const CPACE_HASH_BLOCK_BYTES = 128;

const P = 2n ** 255n - 19n;
const Fp = Field(P);

/** generator_string(DSI, PRS, CI, sid, s_in_bytes) = lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid) */
export function generatorString(dsi: Uint8Array, prs: Uint8Array, ci: Uint8Array, sid: Uint8Array, blockBytes = CPACE_HASH_BLOCK_BYTES): Uint8Array {
  const zpad = Math.max(0, blockBytes - 1 - prependLen(prs).length - prependLen(dsi).length);
  return lvCat(dsi, prs, new Uint8Array(zpad), ci, sid);
}

function leToBigint(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number);
  return v;
}

function bigintToLe32(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let x = v;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** RFC 7748 decodeUCoordinate: clear bit 255, then reduce modulo p. */
export function decodeUCoordinate(u: Uint8Array): bigint {
  const c = Uint8Array.from(bytes(u, 32, "u"));
  c[31] = (c[31] as number) & 0x7f;
  return Fp.create(leToBigint(c));
}

/** Elligator 2 onto Curve25519, returning the Montgomery u-coordinate (RFC 9380, Section 6.7.1). */
export function elligator2(r: bigint): Uint8Array {
  const { xMn, xMd } = _map_to_curve_elligator2_curve25519(Fp.create(r));
  return bigintToLe32(Fp.div(xMn, xMd));
}

/**
 * calculate_generator for G_X25519: hash the generator string with SHA-512, take 32 bytes,
 * decode them as a u-coordinate and map with Elligator 2.
 */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Uint8Array {
  const h = sha512(generatorString(CPACE_DSI, prs, ci, sid)).subarray(0, 32);
  return elligator2(decodeUCoordinate(h));
}

/**
 * scalar_mult_vfy(y, X) = X25519(y, X), returning the 32 zero bytes (G.I) when the result
 * is the neutral element. Callers MUST abort on G.I.
 */
export function scalarMultVfy(scalar: Uint8Array, u: Uint8Array): Uint8Array {
  return x25519Native(bytes(scalar, 32, "scalar"), bytes(u, 32, "u"));
}

function isZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

/** A party's CPace share: Y = X25519(y, g). */
export function cpaceShare(scalar: Uint8Array, generator: Uint8Array): Uint8Array {
  return x25519Native(bytes(scalar, 32, "scalar"), bytes(generator, 32, "generator"));
}

/**
 * K = scalar_mult_vfy(own scalar, peer share).
 * @throws CryptoError LOW_ORDER_POINT when the peer's share leads to the neutral element.
 */
export function cpaceSharedSecret(scalar: Uint8Array, peerShare: Uint8Array): Uint8Array {
  const k = scalarMultVfy(scalar, peerShare);
  if (isZero(k)) throw new CryptoError("LOW_ORDER_POINT", "peer share is a low-order point");
  return k;
}

/** ISK = SHA-512(lv_cat(DSI || "_ISK", sid, K) || transcript) */
export function cpaceIsk(sid: Uint8Array, k: Uint8Array, transcript: Uint8Array): Uint8Array {
  return sha512(concat(lvCat(concat(CPACE_DSI, utf8("_ISK")), sid, k), transcript));
}

/** ISK for the initiator-responder setting, where the initiator (A) speaks first. */
export function cpaceIskIr(sid: Uint8Array, k: Uint8Array, ya: Uint8Array, ada: Uint8Array, yb: Uint8Array, adb: Uint8Array): Uint8Array {
  return cpaceIsk(sid, k, transcriptIr(ya, ada, yb, adb));
}

/** sid_output = SHA-512("CPaceSidOutput" || transcript) */
export function cpaceSidOutput(transcript: Uint8Array): Uint8Array {
  return sha512(concat(utf8("CPaceSidOutput"), transcript));
}

/**
 * Strict check of a received X25519 share: exactly 32 bytes, canonical (bit 255 clear and
 * value below p). tether refuses non-canonical encodings before any scalar multiplication;
 * honest X25519 output is always canonical.
 * @throws CryptoError BAD_LENGTH or NON_CANONICAL_POINT.
 */
export function checkShare(u: unknown, label: string): Uint8Array {
  const b = bytes(u, 32, label);
  if (((b[31] as number) & 0x80) !== 0 || leToBigint(b) >= P) {
    throw new CryptoError("NON_CANONICAL_POINT", `"${label}" is not a canonical X25519 u-coordinate`);
  }
  return b;
}
