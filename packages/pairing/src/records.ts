/** The records of pairing: codes, requests and devices. Binary fields are hex or base64 strings so records are plain JSON. */
import type { Op, Repository } from "@tether/base";

export type CodeState = "active" | "used" | "burned";

/** A pairing code. Only the CPace password (PRS) is stored, sealed (encrypted), never the code. */
/**
 * What a code grants the requests made with it, chosen by the admin who minted it
 * (`tether pair code --role --label --approve --uses`): the role and labels given at approval,
 * approval at once when the handshake finishes (`approve`), and how many devices may pair with
 * it within its lifetime (`uses`, 1 when absent).
 */
export type CodePolicy = { role?: "node" | "orchestrator"; labels?: Record<string, string>; approve?: boolean; uses?: number };

export type CodeRecord = {
  id: string;
  method: "pin" | "qr";
  selector: string;
  /** hex of AES-256-GCM(seal key, PRS) with the code id as associated data (absent in codes of protocol v1, which are refused) */
  prsSealed?: string;
  createdAt: number;
  expiresAt: number;
  attempts: number; // handshakes started against this code
  state: CodeState;
  requestId?: string; // the request it created, once used (the last one, for a code of several uses)
  policy?: CodePolicy;
  /** devices that paired with it so far (absent: none); it is "used" once this reaches its uses */
  used?: number;
};

export type RequestState = "pending" | "approved" | "rejected" | "expired";

export type RequestRecord = {
  id: string;
  state: RequestState;
  deviceId: string;
  name: string;
  requestedRole: string;
  role?: string;
  identityKey: string; // hex
  tlsPublicKey: string; // base64 SPKI DER
  verificationCode: string;
  /** "return": a device back after its certificate expired, asking by its identity key (returns.ts) */
  method: "pin" | "qr" | "return";
  codeId: string;
  /** the policy of the code it was made with, as minted (absent: none) */
  codePolicy?: CodePolicy;
  /** where the node's Finish came from (host:port as the listener saw it; absent: not known) */
  peerAddress?: string;
  /** a return request (method "return"): when the device was last seen and when its certificate expired */
  away?: { lastSeen: number; certificateNotAfter: number };
  createdAt: number;
  expiresAt: number;
  decidedAt?: number;
  certificate?: string; // base64 DER
  certificateFingerprint?: string;
  reason?: string;
};

export type DeviceRecord = {
  id: string;
  name: string;
  role: string;
  identityKey: string; // hex
  certificate: string; // base64 DER
  certificateFingerprint: string;
  certificateSerial: string;
  certificateNotAfter: number;
  pairedAt: number;
  requestId: string;
  /** Set when an admin revoked the device; it cannot connect or pair again until cleared. */
  revokedAt?: number;
  revokeReason?: string;
  /** Serials of this device's certificates that were revoked (kept after a revocation is cleared). */
  revokedSerials?: { serial: string; at: number }[];
  /** Admin-set labels (key=value) for the device-to-device policy (docs/fleet.md, 5B). */
  labels?: Record<string, string>;
  /**
   * An orchestrator's grant to see and act on jobs it did not dispatch (docs/fleet.md 6.1).
   * Absent: only its own jobs. Set at approval (which replaces any earlier grant) or later.
   */
  jobScope?: JobScope;
  /** Serials of peer-server certificates issued to this device (the last 10). */
  peerCertificateSerials?: string[];
  /**
   * The admin asked for a renewal; told to the node on its stream (now, or when it next
   * registers) and in the answers to the device's calls. Cleared by its next renewal.
   */
  rotateRequested?: boolean;
  /** When that was first asked (ms since epoch; absent on marks written before it was kept). */
  rotateRequestedAt?: number;
  /** What the node last announced (kept so offline nodes can still be dispatched to). */
  capabilities?: CapabilityInfo[];
  platform?: string;
  version?: string;
  lastSeen?: number;
  /** The timestamp of the last return request accepted for it (Pairing.Return): one at or before it is a replay. */
  lastReturnAt?: number;
  /** The admin's choice that this device's returns wait for approval even within the grace (tether devices return-policy). */
  returnNeedsApproval?: boolean;
};

/**
 * Jobs an orchestrator may see and act on besides the ones it dispatched: every job, or the
 * jobs of the devices that carry every one of `labels` (their labels when the call is made).
 */
export type JobScope = { kind: "all" } | { kind: "labels"; labels: Record<string, string> };

export type CapabilityInfo = { name: string; description?: string; inputSchema?: string; outputSchema?: string };

/**
 * A device identity key registered ahead of time (factory provisioning): a node that pairs
 * with this key, with a valid code, is approved without waiting for an admin. Keyed by the
 * device id the key derives.
 */
export type PreauthorizationRecord = {
  id: string; // device id
  identityKey: string; // hex
  name?: string;
  role: string;
  createdAt: number;
  expiresAt: number;
  usedAt?: number;
  requestId?: string;
};

/** A pending request (its id): the sweep and `pair list --state pending` read these, not every request. */
export type PendingRequestRecord = { id: string };

/** Bookkeeping, e.g. { id: "pendingIndex", at } once the pending index covers every request. */
export type PairingMetaRecord = { id: string; at: number };

/** The tables the pairing manager keeps. */
export type PairingTables = {
  codes: CodeRecord;
  requests: RequestRecord;
  devices: DeviceRecord;
  preauthorizations: PreauthorizationRecord;
  pendingRequests: PendingRequestRecord;
  pairingMeta: PairingMetaRecord;
};
export const PAIRING_TABLES = ["codes", "requests", "devices", "preauthorizations", "pendingRequests", "pairingMeta"] as const;

/** One write in an atomic batch. */
export type PairingOp = Op<PairingTables>;

/** What the pairing manager needs from storage (atomic, fsynced batches); @tether/store's Store satisfies it. */
export type PairingRepository = Repository<PairingTables>;
