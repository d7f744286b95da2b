// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto


export interface StartRequest {
  /**
   * 2 (PAIR_PROTOCOL_VERSION; version 1 is refused)
   */
  'version'?: (number);
  /**
   * "pin" | "qr"
   */
  'method'?: (string);
  /**
   * 3 digits (pin) or 16 lowercase hex (qr): names the code, not secret
   */
  'selector'?: (string);
  /**
   * 16 random bytes chosen by the node (CPace sid)
   */
  'sid'?: (Buffer | Uint8Array | string);
  /**
   * 64 bytes: SHA-512 commitment to the node's CPace share
   */
  'commitment'?: (Buffer | Uint8Array | string);
  /**
   * 32 bytes: Ed25519 public key
   */
  'identityKey'?: (Buffer | Uint8Array | string);
  /**
   * SubjectPublicKeyInfo DER of the node's ECDSA P-256 TLS key
   */
  'tlsPublicKey'?: (Buffer | Uint8Array | string);
  /**
   * 1..64 UTF-8 bytes, no control characters
   */
  'name'?: (string);
  /**
   * "node" | "orchestrator"
   */
  'role'?: (string);
}

export interface StartRequest__Output {
  /**
   * 2 (PAIR_PROTOCOL_VERSION; version 1 is refused)
   */
  'version': (number);
  /**
   * "pin" | "qr"
   */
  'method': (string);
  /**
   * 3 digits (pin) or 16 lowercase hex (qr): names the code, not secret
   */
  'selector': (string);
  /**
   * 16 random bytes chosen by the node (CPace sid)
   */
  'sid': (Buffer);
  /**
   * 64 bytes: SHA-512 commitment to the node's CPace share
   */
  'commitment': (Buffer);
  /**
   * 32 bytes: Ed25519 public key
   */
  'identityKey': (Buffer);
  /**
   * SubjectPublicKeyInfo DER of the node's ECDSA P-256 TLS key
   */
  'tlsPublicKey': (Buffer);
  /**
   * 1..64 UTF-8 bytes, no control characters
   */
  'name': (string);
  /**
   * "node" | "orchestrator"
   */
  'role': (string);
}
