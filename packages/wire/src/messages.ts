/** Message shapes as @grpc/proto-loader decodes them (camelCase, int64 as number, bytes as Buffer). */

export type StartRequest = {
  version: number;
  method: string;
  selector: string;
  sid: Uint8Array;
  commitment: Uint8Array;
  identityKey: Uint8Array;
  tlsPublicKey: Uint8Array;
  name: string;
  role: string;
};
export type StartResponse = {
  sessionId: string;
  yb: Uint8Array;
  caCertificate: Uint8Array;
  signerCertificate: Uint8Array;
  sessionExpiresAt: number;
};
export type RevealRequest = { sessionId: string; ya: Uint8Array };
export type RevealResponse = { daemonConfirmation: Uint8Array; daemonSignature: Uint8Array };
export type FinishRequest = { sessionId: string; nodeConfirmation: Uint8Array; nodeSignature: Uint8Array };
export type FinishResponse = { requestId: string; deviceId: string; expiresAt: number };
export type AwaitRequest = { requestId: string; timestamp: number; signature: Uint8Array };
export type AwaitResponse = {
  state: string;
  role: string;
  certificate: Uint8Array;
  caCertificate: Uint8Array;
  deviceId: string;
  expiresAt: number;
  reason: string;
};
/** Node.Renew and Node.IssuePeerCertificate (docs/fleet.md §5A.1, §5D). */
export type RenewRequest = { tlsPublicKey: Uint8Array; timestamp: number; signature: Uint8Array; keyProof: Uint8Array };
export type RenewResponse = { certificate: Uint8Array; notAfter: number };
export type CreateCodeRequest = { method: string; ttlSeconds: number };
export type CreateCodeResponse = { id: string; method: string; code: string; expiresAt: number; selector: string };
export type PairRequest = {
  id: string;
  state: string;
  deviceId: string;
  name: string;
  requestedRole: string;
  role: string;
  keyFingerprint: string;
  verificationCode: string;
  method: string;
  createdAt: number;
  expiresAt: number;
  decidedAt: number;
  certificateFingerprint: string;
  reason: string;
};
export type Device = {
  id: string;
  name: string;
  role: string;
  identityKey: string;
  keyFingerprint: string;
  certificateFingerprint: string;
  certificateSerial: string;
  certificateNotAfter: number;
  pairedAt: number;
  requestId: string;
  certificatePem: string;
  revokedAt: number;
  revokeReason: string;
  online: boolean;
  lastSeen: number;
  capabilities: string[];
  platform: string;
  version: string;
  inFlight: number;
  labels: Record<string, string>;
  jobScope: JobScope;
  /** an admin asked for a rotation that the device has not done yet (docs/fleet.md §5A.4) */
  rotationPending: boolean;
  /** when it was first asked (ms since epoch; 0 when unknown or none is pending) */
  rotationRequestedAt: number;
};
/** kind "own" | "all" | "labels" (docs/fleet.md 6.1) */
export type JobScope = { kind: string; labels: Record<string, string> };
export type Job = {
  id: string;
  deviceId: string;
  capability: string;
  state: string;
  input: Uint8Array;
  output: Uint8Array;
  error: string;
  createdAt: number;
  deadline: number;
  updatedAt: number;
  attempts: number;
  idempotencyKey: string;
  dispatchedBy: string;
};
export type NodeInfo = {
  deviceId: string;
  name: string;
  role: string;
  online: boolean;
  lastSeen: number;
  capabilities: string[];
  platform: string;
  version: string;
  inFlight: number;
  maxConcurrency: number;
  /** the node's stream takes no new jobs: it is finishing its running ones before it stops (fleet.md §7) */
  draining: boolean;
};
export type StatusResponse = {
  version: string;
  listen: string;
  advertise: string;
  caFingerprint: string;
  dataDir: string;
  startedAt: number;
  storeState: "ok" | "failed" | "damaged";
  storeError: string;
  storeSince: number;
};
