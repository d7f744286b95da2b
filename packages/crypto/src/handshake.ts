/**
 * The tether pairing handshake (docs/protocol.md): CPace over the pairing code, a transcript
 * hash that both sides sign, key confirmation in both directions, and a short verification
 * code. Both roles live here so the daemon and the node cannot drift apart. Pure: scalars,
 * session ids and keys are supplied by the caller.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { bytes, concat, constantTimeEqual, u32be, u64be, utf8 } from "./bytes.js";
import type { PairMethod } from "./codes.js";
import { isValidSelector } from "./codes.js";
import { calculateGenerator, checkShare, cpaceIskIr, cpaceShare, cpaceSharedSecret } from "./cpace.js";
import { CryptoError } from "./errors.js";
import { checkIdentityKey } from "./identity.js";
import { lvCat } from "./lv.js";
import { transcript } from "./transcript.js";

export const PAIR_PROTOCOL = "tether/pair/v2";
export const PAIR_PROTOCOL_VERSION = 2;
export const SID_BYTES = 16;
export const CONFIRMATION_BYTES = 64;
export const COMMITMENT_BYTES = 64;
export const NAME_MAX_BYTES = 64;
export const TLS_PUBLIC_KEY_MAX_BYTES = 256;
export const VERIFICATION_CODE_DIGITS = 6;
/** Subject CN of the daemon's pairing-signer certificate (keyUsage digitalSignature, no EKU). */
export const PAIRING_SIGNER_COMMON_NAME = "tether pairing signer";

export const Role = { Node: "node", Orchestrator: "orchestrator" } as const;
export type Role = (typeof Role)[keyof typeof Role];
const ROLES: readonly string[] = Object.values(Role);

/** What a node claims about itself in the first message; all of it is signed. */
export type NodeClaims = {
  identityKey: Uint8Array;
  tlsPublicKey: Uint8Array; // SubjectPublicKeyInfo DER of the node's TLS key
  name: string;
  role: Role;
};

/**
 * Validate a node name: 1..64 UTF-8 bytes, no control characters.
 * @throws CryptoError BAD_NAME.
 */
export function checkName(name: unknown): string {
  if (typeof name !== "string" || name.length === 0) throw new CryptoError("BAD_NAME", '"name" must not be empty');
  if (utf8(name).length > NAME_MAX_BYTES) {
    throw new CryptoError("BAD_NAME", `"name" must be at most ${NAME_MAX_BYTES} bytes, got ${utf8(name).length}`);
  }
  if (/[\p{Cc}\p{Cf}]/u.test(name)) throw new CryptoError("BAD_NAME", '"name" must not contain control characters');
  return name;
}

/** @throws CryptoError BAD_ROLE unless the role is "node" or "orchestrator". */
export function checkRole(role: unknown): Role {
  if (typeof role !== "string" || !ROLES.includes(role)) {
    throw new CryptoError("BAD_ROLE", `"role" must be one of ${ROLES.join(", ")}`);
  }
  return role as Role;
}

/**
 * Labelled checks of every claim field.
 * @throws CryptoError naming the first bad field.
 */
export function checkClaims(c: { identityKey: unknown; tlsPublicKey: unknown; name: unknown; role: unknown }): NodeClaims {
  return {
    identityKey: checkIdentityKey(c.identityKey, "identityKey"),
    tlsPublicKey: bytes(c.tlsPublicKey, [1, TLS_PUBLIC_KEY_MAX_BYTES], "tlsPublicKey"),
    name: checkName(c.name),
    role: checkRole(c.role),
  };
}

/** CPace channel identifier: lv_cat("tether/pair/v2", method, selector). */
export function pairingCi(method: PairMethod, selector: string): Uint8Array {
  if (!isValidSelector(method, selector)) throw new CryptoError("BAD_SELECTOR", `bad ${method} code selector`);
  return lvCat(utf8(PAIR_PROTOCOL), utf8(method), utf8(selector));
}

/** ADa = lv_cat(identityKey, tlsPublicKey, name, role) */
export function nodeAd(c: NodeClaims): Uint8Array {
  return lvCat(c.identityKey, c.tlsPublicKey, utf8(c.name), utf8(c.role));
}

/** ADb = lv_cat(caCertificate, signerCertificate) */
export function daemonAd(caCertDer: Uint8Array, signerCertDer: Uint8Array): Uint8Array {
  return lvCat(caCertDer, signerCertDer);
}

/** Everything both sides agree on once the two CPace messages have crossed. */
export type HandshakeView = {
  method: PairMethod;
  selector: string;
  sid: Uint8Array;
  ya: Uint8Array; // node's share
  yb: Uint8Array; // daemon's share
  claims: NodeClaims;
  caCertDer: Uint8Array;
  caFingerprint: Uint8Array; // SHA-256 of the CA SubjectPublicKeyInfo
  signerCertDer: Uint8Array;
};

/** TH = SHA-512(transcript("tether/pair/v2/transcript", [...])) — what both sides sign and MAC. */
export function transcriptHash(v: HandshakeView): Uint8Array {
  return sha512(
    transcript(`${PAIR_PROTOCOL}/transcript`, [
      u32be(PAIR_PROTOCOL_VERSION),
      v.method,
      v.selector,
      v.sid,
      v.ya,
      v.yb,
      v.claims.identityKey,
      v.claims.tlsPublicKey,
      v.claims.name,
      v.claims.role,
      v.caFingerprint,
      v.signerCertDer,
    ]),
  );
}

/** Keys and values derived from one completed CPace run. */
export type SessionKeys = {
  th: Uint8Array;
  daemonConfirmation: Uint8Array; // HMAC the daemon sends
  nodeConfirmation: Uint8Array; // HMAC the node sends
  verificationCode: string; // "123-456"
};

function derive(isk: Uint8Array, th: Uint8Array, label: string, length: number): Uint8Array {
  return hkdf(sha512, isk, th, utf8(`${PAIR_PROTOCOL} ${label}`), length);
}

/** Derive confirmation tags and the verification code from ISK and TH. */
export function deriveSessionKeys(isk: Uint8Array, th: Uint8Array): SessionKeys {
  const kd = derive(isk, th, "daemon confirmation key", 64);
  const kn = derive(isk, th, "node confirmation key", 64);
  const vc = derive(isk, th, "verification code", 8);
  const n = new DataView(vc.buffer, vc.byteOffset, 8).getBigUint64(0, false) % 10n ** BigInt(VERIFICATION_CODE_DIGITS);
  const digits = n.toString().padStart(VERIFICATION_CODE_DIGITS, "0");
  return {
    th,
    daemonConfirmation: hmac(sha512, kd, concat(utf8("daemon"), th)),
    nodeConfirmation: hmac(sha512, kn, concat(utf8("node"), th)),
    verificationCode: `${digits.slice(0, 3)}-${digits.slice(3)}`,
  };
}

function complete(v: HandshakeView, k: Uint8Array): SessionKeys {
  const isk = cpaceIskIr(v.sid, k, v.ya, nodeAd(v.claims), v.yb, daemonAd(v.caCertDer, v.signerCertDer));
  return deriveSessionKeys(isk, transcriptHash(v));
}

/** Node, step 1: Ya = X25519(ya, g(PRS, CI, sid)). */
export function nodeShare(prs: Uint8Array, method: PairMethod, selector: string, sid: Uint8Array, scalar: Uint8Array): Uint8Array {
  const g = calculateGenerator(prs, pairingCi(method, selector), bytes(sid, SID_BYTES, "sid"));
  return cpaceShare(scalar, g);
}

/**
 * The node's commitment to its share, sent in Start before it sees the daemon's share:
 * SHA-512(transcript("tether/pair/v2/commitment", [sid, Ya])). Because the daemon must fix
 * Yb before Ya is revealed, and the node must fix Ya before it sees Yb, neither side (nor a
 * man in the middle playing either side) can grind its share to steer the verification code.
 */
export function shareCommitment(sid: Uint8Array, ya: Uint8Array): Uint8Array {
  return sha512(transcript(`${PAIR_PROTOCOL}/commitment`, [bytes(sid, SID_BYTES, "sid"), bytes(ya, 32, "ya")]));
}

/** Daemon, step 2: Yb = X25519(yb, g(PRS, CI, sid)), chosen before Ya is known. */
export function daemonShare(prs: Uint8Array, method: PairMethod, selector: string, sid: Uint8Array, scalar: Uint8Array): Uint8Array {
  return nodeShare(prs, method, selector, sid, scalar);
}

/**
 * Daemon, step 3: with the revealed Ya, check it against the commitment and compute the
 * session keys.
 * @throws CryptoError COMMITMENT_MISMATCH, NON_CANONICAL_POINT, LOW_ORDER_POINT, BAD_LENGTH.
 */
export function daemonComplete(v: HandshakeView, commitment: Uint8Array, scalar: Uint8Array): SessionKeys {
  checkShare(v.ya, "ya");
  if (!constantTimeEqual(shareCommitment(v.sid, v.ya), commitment)) {
    throw new CryptoError("COMMITMENT_MISMATCH", '"ya" does not match the commitment sent in Start');
  }
  return complete(v, cpaceSharedSecret(scalar, v.ya));
}

/**
 * Node, step 3: from the daemon's share, compute the session keys.
 * @throws CryptoError NON_CANONICAL_POINT / LOW_ORDER_POINT / BAD_LENGTH for a bad daemon share.
 */
export function nodeComplete(v: HandshakeView, scalar: Uint8Array): SessionKeys {
  checkShare(v.yb, "yb");
  return complete(v, cpaceSharedSecret(scalar, v.yb));
}

/**
 * A verification code as an admin types it, in the form the handshake prints (`NNN-NNN`):
 * the 6 digits with or without the dash (surrounding spaces ignored).
 * @throws CryptoError BAD_VERIFICATION_CODE for anything else (the message never repeats the input).
 */
export function parseVerificationCode(text: string, label = "verification code"): string {
  const m = /^\s*(\d{3})-?(\d{3})\s*$/.exec(text);
  if (!m) throw new CryptoError("BAD_VERIFICATION_CODE", `"${label}" must be ${VERIFICATION_CODE_DIGITS} digits, as NNN-NNN or NNNNNN`);
  return `${m[1]}-${m[2]}`;
}

/**
 * Whether a request's verification code equals the one an admin compared, in constant time
 * (the time depends only on the lengths). Both in the `NNN-NNN` form.
 */
export function verificationCodesMatch(expected: string, given: string): boolean {
  return constantTimeEqual(utf8(expected), utf8(given));
}

/** Constant-time check of a received confirmation tag. */
export function confirmationMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return constantTimeEqual(expected, received);
}

/** The bytes the node signs with its identity key. */
export function nodeSignedMessage(th: Uint8Array): Uint8Array {
  return concat(utf8(`${PAIR_PROTOCOL} node signature`), Uint8Array.of(0), th);
}

/** The bytes the daemon signs with its pairing-signer key (ECDSA P-256, SHA-256). */
export function daemonSignedMessage(th: Uint8Array): Uint8Array {
  return concat(utf8(`${PAIR_PROTOCOL} daemon signature`), Uint8Array.of(0), th);
}

/** The bytes a node signs to ask about its pending request. */
export function awaitSignedMessage(requestId: string, timestampMs: number): Uint8Array {
  return transcript(`${PAIR_PROTOCOL}/await`, [requestId, u64be(timestampMs)]);
}

/** The bytes a device signs with its identity key to renew its certificate. */
export function renewSignedMessage(deviceId: string, tlsPublicKey: Uint8Array, timestampMs: number): Uint8Array {
  return transcript("tether/renew/v1", [deviceId, tlsPublicKey, u64be(timestampMs)]);
}

/**
 * The bytes a device signs with its identity key to return after its certificate expired
 * (Pairing.Return, docs/fleet.md §5A.5): no certificate authenticates it, so the identity key
 * alone does, over a label no other signed message uses.
 */
export function returnSignedMessage(deviceId: string, tlsPublicKey: Uint8Array, timestampMs: number): Uint8Array {
  return transcript("tether/return/v1", [deviceId, tlsPublicKey, u64be(timestampMs)]);
}

/**
 * The verification code of a return request, which the device shows and the admin compares
 * when the return needs approval: the first 8 bytes of SHA-512("tether/return-code/v1" ‖ 0x00
 * ‖ the signed return bytes) as a big-endian integer, modulo 10^6, as NNN-NNN.
 */
export function returnVerificationCode(signedReturn: Uint8Array): string {
  const h = sha512(concat(utf8("tether/return-code/v1"), Uint8Array.of(0), signedReturn));
  const n = new DataView(h.buffer, h.byteOffset, 8).getBigUint64(0, false) % 10n ** BigInt(VERIFICATION_CODE_DIGITS);
  const digits = n.toString().padStart(VERIFICATION_CODE_DIGITS, "0");
  return `${digits.slice(0, 3)}-${digits.slice(3)}`;
}

/** Which request a key proof is for: a proof made for one is refused by the others. */
export const KeyProofPurpose = { Renew: "Node.Renew", PeerCertificate: "Node.IssuePeerCertificate", Return: "Pairing.Return" } as const;
export type KeyProofPurpose = (typeof KeyProofPurpose)[keyof typeof KeyProofPurpose];

/**
 * The bytes the requested TLS key itself signs (ECDSA P-256 / SHA-256, DER) in a Renew or
 * IssuePeerCertificate request, proving the device holds its private half (docs/fleet.md §5A.1).
 */
export function keyProofMessage(purpose: KeyProofPurpose, deviceId: string, tlsPublicKey: Uint8Array, timestampMs: number): Uint8Array {
  return transcript("tether/key-proof/v1", [purpose, deviceId, tlsPublicKey, u64be(timestampMs)]);
}
