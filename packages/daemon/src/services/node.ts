/**
 * The Node service on the TLS listener: the work stream (in hub.ts), certificate renewal and
 * peer certificates, the CRL and Verify, and device tokens. Every call authenticates its
 * client certificate first.
 */
import { status as grpcStatus } from "@grpc/grpc-js";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { TOKEN_DEFAULT_TTL_MS, TOKEN_MAX_TTL_MS, signToken, toHex } from "@tether/crypto";
import type { Jwks } from "@tether/crypto";
import type { PairingManager } from "@tether/pairing";
import type { RenewRequest, RenewResponseInit } from "@tether/wire";
import type { DeviceIndex } from "../auth.js";
import { authenticate } from "../auth.js";
import type { LoadedAuthority } from "../authority.js";
import type { Revocations } from "../crl.js";
import { wireCrl, withPolicy } from "../crl.js";
import { DaemonError } from "../errors.js";
import type { NodeHub } from "../hub.js";
import { deviceIdArg } from "../ids.js";
import type { Logger } from "../log.js";
import { unary } from "./rpc.js";

export function nodeService(o: {
  hub: NodeHub;
  index: DeviceIndex;
  pairing: PairingManager;
  revocations: Revocations;
  authority: LoadedAuthority;
  jwks: Jwks;
  now: () => number;
  log: Logger;
  random: (n: number) => Uint8Array;
}): UntypedServiceImplementation {
  const { hub, index, pairing, revocations, authority, jwks, now, log, random } = o;
  return {
    Connect: (call: Parameters<NodeHub["connect"]>[0]) => hub.connect(call),
    Renew: unary<RenewRequest, RenewResponseInit>(log, "Node.Renew", async (req, call) => {
      // The current certificate must still be valid: an expired one cannot renew itself.
      const peer = authenticate(call, index, now(), undefined, { hint: false });
      const d = await pairing.renew({ deviceId: peer.deviceId, ...req });
      log.info("certificate renewed", { device: d.id, certificate: d.certificateFingerprint });
      return { certificate: Buffer.from(d.certificate, "base64"), notAfter: d.certificateNotAfter };
    }),
    GetCrl: unary<object, object>(log, "Node.GetCrl", async (_req, call) => {
      authenticate(call, index, now());
      const c = await revocations.crl();
      return wireCrl(c);
    }),
    Verify: unary<{ certificate: Uint8Array; token: string; audience: string; peerDeviceId: string }, object>(log, "Node.Verify", async (req, call) => {
      authenticate(call, index, now());
      if (req.peerDeviceId) deviceIdArg(req.peerDeviceId, "peerDeviceId");
      return withPolicy(revocations, req.peerDeviceId, req.token ? revocations.verifyToken(req.token, req.audience, jwks) : revocations.verify(req.certificate));
    }),
    IssueToken: unary<{ audience: string; ttlSeconds: number }, object>(log, "Node.IssueToken", async (req, call) => {
      const peer = authenticate(call, index, now());
      if (!req.audience || req.audience.length > 128) {
        throw new DaemonError("INVALID_ARGUMENT", '"audience" must be 1..128 characters', { status: grpcStatus.INVALID_ARGUMENT });
      }
      const ttl = req.ttlSeconds ? req.ttlSeconds * 1000 : TOKEN_DEFAULT_TTL_MS;
      if (ttl > TOKEN_MAX_TTL_MS) throw new DaemonError("INVALID_ARGUMENT", "tokens live at most 900 seconds", { status: grpcStatus.INVALID_ARGUMENT });
      const iat = Math.floor(now() / 1000);
      const claims = {
        iss: `tether:${authority.caFingerprint.slice(0, 16)}`,
        sub: peer.deviceId,
        aud: req.audience,
        iat,
        exp: iat + Math.floor(ttl / 1000),
        jti: toHex(random(16)),
        role: peer.role,
      };
      return { token: signToken(claims, authority.tokenSecretKey.expose(), authority.tokenPublicKey), expiresAt: claims.exp * 1000 };
    }),
    IssuePeerCertificate: unary<RenewRequest, RenewResponseInit>(log, "Node.IssuePeerCertificate", async (req, call) => {
      const peer = authenticate(call, index, now());
      const c = await pairing.issuePeerCertificate({ deviceId: peer.deviceId, ...req });
      return { certificate: c.certDer, notAfter: c.notAfter };
    }),
    GetJwks: unary<object, object>(log, "Node.GetJwks", async (_req, call) => {
      authenticate(call, index, now());
      return { json: JSON.stringify(jwks) };
    }),
  };
}
