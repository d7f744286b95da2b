/** @tether/node: the node SDK. pair() now; connect() and capability handlers come with streams. */
export { NodeError } from "./errors.js";
export type { NodeErrorCode } from "./errors.js";
export { pair } from "./pair.js";
export { MAX_OUTPUT_BYTES, NODE_VERSION, NodeConnection, connect } from "./connect.js";
export type { CapabilityOptions, ConnectOptions, Drained, Handler, HeldCrl, JobContext } from "./connect.js";
export { orchestrator } from "./orchestrator.js";
export { RENEW_AT, renewIfDue, renewalDue } from "./renew.js";
export { refusedForGood } from "./refusal.js";
export type { Refusal } from "./refusal.js";
export type { RenewReason, Renewed } from "./renew.js";
export type { OrchestratorClient } from "./orchestrator.js";
export type { PairOptions, PairResult } from "./pair.js";
export { NODE_STATE_ENV, STATE_FILES, defaultStateDir, loadCredentials, loadOrCreateIdentity, loadOrCreateTlsKey, readPairedState } from "./state.js";
export type { DeviceCredentials, Identity, PairedState, TlsKey } from "./state.js";
export { verifyToken } from "@tether/crypto";
export type { Jwks, TokenClaims } from "@tether/crypto";
export { PEER_VERIFY_CACHE_MS, connectPeer, createPeerServer } from "./peer.js";
export type { PeerCheckOptions, PeerConnection, PeerHandler, PeerInfo, PeerServer } from "./peer.js";
