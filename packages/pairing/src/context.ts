/**
 * What the parts of the pairing manager share: the one repository, authority, clock,
 * randomness, config and mutex, and the input checks more than one part makes. Every part
 * gets the same context, so all of them serialise on the same mutex, as one manager did.
 */
import { CryptoError, toHex } from "@tether/crypto";
import { Mutex } from "@tether/base";
import type { PairingConfig } from "./config.js";
import { PairingError } from "./errors.js";
import type { PairingRepository } from "./records.js";

/** What the manager needs from the certificate authority. */
export interface PairingAuthority {
  readonly caCertDer: Uint8Array;
  /** hex SHA-256 of the CA certificate's SubjectPublicKeyInfo */
  readonly caFingerprint: string;
  /** May change while running (signer rotation): read it at each use. */
  readonly signerCertDer: Uint8Array;
  /** Refuse a node TLS key the CA would not certify (throws an error with code BAD_PUBLIC_KEY). */
  checkNodePublicKey(spkiDer: Uint8Array): void;
  /** ECDSA P-256 / SHA-256 signature by the pairing-signer key, DER encoded. */
  signTranscript(message: Uint8Array): Uint8Array;
  /** Optional: a serverAuth certificate for device-to-device serving. */
  issuePeerServerCert?(o: { deviceId: string; publicKeySpkiDer: Uint8Array; now: number }): Promise<{
    certDer: Uint8Array;
    fingerprint: string;
    serialHex: string;
    notAfter: number;
  }>;
  issueNodeCert(o: { deviceId: string; publicKeySpkiDer: Uint8Array; now: number }): Promise<{
    certDer: Uint8Array;
    fingerprint: string;
    serialHex: string;
    notAfter: number;
  }>;
}

export type Clock = { now(): number };
export type RandomBytes = (n: number) => Uint8Array;

/** The injected dependencies and the one mutex, shared by every part of the manager. */
export class PairingContext {
  readonly repo: PairingRepository;
  readonly ca: PairingAuthority;
  readonly clock: Clock;
  readonly random: RandomBytes;
  readonly config: PairingConfig;
  /** Every state change of every part runs under this one mutex. */
  readonly mutex = new Mutex();

  constructor(o: { repo: PairingRepository; ca: PairingAuthority; clock: Clock; random: RandomBytes; config: PairingConfig }) {
    this.repo = o.repo;
    this.ca = o.ca;
    this.clock = o.clock;
    this.random = o.random;
    this.config = o.config;
  }

  /** `prefix` and 24 hex digits: the form checkSessionId and checkRequestId hold echoed ids to. */
  id(prefix: string): string {
    return prefix + toHex(this.random(12));
  }

  /** A signed timestamp must be within the window of the daemon's clock; the error says by how much it is off. */
  freshTimestamp(timestamp: number, now: number): void {
    if (Number.isFinite(timestamp) && Math.abs(now - timestamp) <= this.config.timestampWindowMs) return;
    const off = Number.isFinite(timestamp) ? `${Math.round(Math.abs(timestamp - now) / 1000)} s ${timestamp > now ? "ahead of" : "behind"}` : "not a time, compared with";
    throw new PairingError(
      "STALE_TIMESTAMP",
      `signed timestamp is ${off} the daemon's clock (allowed: ${this.config.timestampWindowMs / 60_000} minutes either way); check both clocks (NTP)`,
    );
  }
}

/**
 * An id a node echoes back must have the one form the manager issues, checked before it is
 * looked up, logged or recorded; the refusal names its length, never its text.
 */
export function checkId(value: unknown, pattern: RegExp, label: string, form: string): void {
  if (typeof value === "string" && pattern.test(value)) return;
  const got = typeof value === "string" ? `${value.length} characters` : typeof value;
  throw new PairingError("INVALID_ARGUMENT", `"${label}" must be ${form} (got ${got})`);
}

export function asInvalid(cause: unknown): PairingError {
  if (cause instanceof PairingError) return cause;
  if (cause instanceof CryptoError) return new PairingError("INVALID_ARGUMENT", cause.message, { cause });
  if (cause instanceof Error && (cause as { code?: unknown }).code === "BAD_PUBLIC_KEY") {
    return new PairingError("INVALID_ARGUMENT", cause.message, { cause });
  }
  throw cause;
}
