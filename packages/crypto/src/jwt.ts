/**
 * Short-lived device tokens: compact JWS (RFC 7515) with alg "EdDSA" (RFC 8037, Ed25519),
 * claims iss, sub (device id), aud, iat, exp, jti, role. Signing and verification are pure:
 * the caller supplies the key, the clock and the randomness.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64Url, toBase64Url, utf8 } from "./bytes.js";
import { CryptoError } from "./errors.js";
import { checkIdentityKey } from "./identity.js";
import { ed25519Sign, ed25519Verify } from "./native.js";

export const TOKEN_MAX_TTL_MS = 15 * 60_000;
export const TOKEN_DEFAULT_TTL_MS = 5 * 60_000;
/** Clock difference a verifier tolerates on iat and exp. */
export const TOKEN_LEEWAY_MS = 60_000;

export type TokenClaims = { iss: string; sub: string; aud: string; iat: number; exp: number; jti: string; role: string };
export type Jwk = { kty: "OKP"; crv: "Ed25519"; x: string; kid: string; alg: "EdDSA"; use: "sig" };
export type Jwks = { keys: Jwk[] };

/** The key id of an Ed25519 public key: base64url of the first 12 bytes of its SHA-256. */
export function tokenKeyId(publicKey: Uint8Array): string {
  return toBase64Url(sha256(publicKey).subarray(0, 12));
}

export function jwkOf(publicKey: Uint8Array): Jwk {
  return { kty: "OKP", crv: "Ed25519", x: toBase64Url(publicKey), kid: tokenKeyId(publicKey), alg: "EdDSA", use: "sig" };
}

const enc = (o: object) => toBase64Url(utf8(JSON.stringify(o)));

/** Sign claims with the daemon's Ed25519 token key. */
export function signToken(claims: TokenClaims, secretKey: Uint8Array, publicKey: Uint8Array): string {
  const head = enc({ alg: "EdDSA", typ: "JWT", kid: tokenKeyId(publicKey) });
  const body = enc(claims);
  const sig = ed25519Sign(secretKey, utf8(`${head}.${body}`));
  return `${head}.${body}.${toBase64Url(sig)}`;
}

/**
 * Verify a token against a JWKS: alg must be EdDSA (never "none" or anything else), the kid
 * must name a key in the set, the signature must verify (strict), the audience must match,
 * and iat/exp must hold at `now` (with TOKEN_LEEWAY_MS).
 * @throws CryptoError BAD_TOKEN with the reason.
 */
export function verifyToken(token: string, jwks: Jwks, o: { audience: string; now: number }): TokenClaims {
  const bad = (why: string): never => {
    throw new CryptoError("BAD_TOKEN", `token refused: ${why}`);
  };
  const parts = token.split(".");
  if (parts.length !== 3) bad("not a compact JWS");
  const [h, b, s] = parts as [string, string, string];
  let header: { alg?: unknown; kid?: unknown };
  let claims: TokenClaims;
  try {
    header = JSON.parse(new TextDecoder().decode(fromBase64Url(h))) as typeof header;
    claims = JSON.parse(new TextDecoder().decode(fromBase64Url(b))) as TokenClaims;
  } catch {
    return bad("malformed header or claims");
  }
  if (header.alg !== "EdDSA") bad(`alg ${JSON.stringify(header.alg)} is not allowed (only EdDSA)`);
  const key = jwks.keys.find((k) => k.kid === header.kid && k.kty === "OKP" && k.crv === "Ed25519");
  if (!key) bad("unknown key id");
  let ok = false;
  try {
    ok = ed25519Verify(checkIdentityKey(fromBase64Url((key as Jwk).x), "jwk.x"), utf8(`${h}.${b}`), fromBase64Url(s));
  } catch {
    ok = false;
  }
  if (!ok) bad("signature does not verify");
  if (claims.aud !== o.audience) bad(`audience ${JSON.stringify(claims.aud)} is not ${JSON.stringify(o.audience)}`);
  if (typeof claims.exp !== "number" || o.now >= claims.exp * 1000 + TOKEN_LEEWAY_MS) bad("expired");
  if (typeof claims.iat !== "number" || claims.iat * 1000 > o.now + TOKEN_LEEWAY_MS) bad("issued in the future");
  if (claims.exp * 1000 - claims.iat * 1000 > TOKEN_MAX_TTL_MS) bad("lifetime longer than 15 minutes");
  return claims;
}
