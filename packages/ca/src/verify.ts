/**
 * Verification of a leaf certificate against tether's CA: issuer, signature, basic
 * constraints and validity window at an injected `now`. One hop only, because tether's
 * PKI is a single root with pathLen 0.
 */
import { timestamp } from "./checks.js";
import { isCa, parseCertificate, validityOf } from "./certificate.js";
import { DEVICE_URI_PREFIX } from "./defaults.js";
import { certFingerprint } from "./encoding.js";
import { CaError } from "./errors.js";
import { x509 } from "./provider.js";

/** What {@link verifyIssuedBy} learns from a good leaf. Times are ms since epoch. */
export type VerifiedCert = {
  /** From the `urn:tether:device:<id>` SAN URI; absent on server and signer certs. */
  deviceId?: string;
  notBefore: number;
  notAfter: number;
  /** Lowercase hex, as issued (leading sign byte stripped). */
  serialHex: string;
  /** The leaf's SubjectPublicKeyInfo, DER. */
  spkiDer: Uint8Array;
  /** Hex SHA-256 of the leaf DER. */
  fingerprint: string;
};

/**
 * Verify that `leafDer` was issued by `caDer` and is valid at `now`: the CA must be a CA
 * valid at `now`, the leaf's issuer DN must equal the CA's subject DN, its ECDSA-SHA256
 * signature must verify under the CA key, and it must not itself be a CA.
 * Callers authorising a node must additionally require `deviceId`.
 * @throws {CaError} `BAD_CERTIFICATE` if either input does not parse or the leaf carries
 *   several device URIs; `BAD_INPUT` for a bad `now`; `NOT_A_CA` if `caDer` is not a CA;
 *   `CA_NOT_VALID` if the CA is outside its validity; `CHAIN_INVALID` if the leaf was not
 *   signed by this CA or is a CA; `CERT_NOT_YET_VALID` / `CERT_EXPIRED` for the leaf's window.
 */
export async function verifyIssuedBy(leafDer: Uint8Array, caDer: Uint8Array, now: number): Promise<VerifiedCert> {
  const leaf = parseCertificate(leafDer, "leafDer");
  const ca = parseCertificate(caDer, "caDer");
  timestamp(now, "now");

  if (!isCa(ca)) throw new CaError("NOT_A_CA", `"caDer" lacks basicConstraints CA:TRUE`);
  const caWindow = validityOf(ca);
  if (now < caWindow.notBefore || now > caWindow.notAfter) {
    throw new CaError("CA_NOT_VALID", `CA certificate is not valid at ${new Date(now).toISOString()}`);
  }
  if (!Buffer.from(leaf.issuerName.toArrayBuffer()).equals(Buffer.from(ca.subjectName.toArrayBuffer()))) {
    throw new CaError("CHAIN_INVALID", `leaf issuer "${leaf.issuer}" is not the CA subject "${ca.subject}"`);
  }
  const alg = leaf.signatureAlgorithm as { name?: string; hash?: { name?: string } };
  if (alg.name !== "ECDSA" || alg.hash?.name !== "SHA-256") {
    throw new CaError("CHAIN_INVALID", `leaf is not signed with ECDSA-SHA256`);
  }
  let signed = false;
  try {
    signed = await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true });
  } catch (cause) {
    throw new CaError("CHAIN_INVALID", `leaf signature could not be checked against the CA key`, { cause });
  }
  if (!signed) throw new CaError("CHAIN_INVALID", `leaf signature does not verify under the CA key`);
  if (isCa(leaf)) throw new CaError("CHAIN_INVALID", `leaf is itself a CA certificate`);

  const { notBefore, notAfter } = validityOf(leaf);
  if (now < notBefore) {
    throw new CaError("CERT_NOT_YET_VALID", `certificate is not valid before ${new Date(notBefore).toISOString()}`);
  }
  if (now > notAfter) {
    throw new CaError("CERT_EXPIRED", `certificate expired at ${new Date(notAfter).toISOString()}`);
  }

  const result: VerifiedCert = {
    notBefore,
    notAfter,
    serialHex: leaf.serialNumber.toLowerCase(),
    spkiDer: new Uint8Array(leaf.publicKey.rawData),
    fingerprint: certFingerprint(leafDer),
  };
  const deviceId = deviceIdOf(leaf);
  if (deviceId !== undefined) result.deviceId = deviceId;
  return result;
}

/**
 * The device id in a certificate's `subjectAltName` as Node's X509Certificate renders it
 * ("URI:urn:tether:device:<id>, ..."), or undefined. For certificates already verified.
 */
export function deviceIdFromSubjectAltName(subjectAltName: string | undefined): string | undefined {
  for (const part of (subjectAltName ?? "").split(", ")) {
    if (part.startsWith(`URI:${DEVICE_URI_PREFIX}`)) return part.slice(4 + DEVICE_URI_PREFIX.length) || undefined;
  }
  return undefined;
}

function deviceIdOf(cert: x509.X509Certificate): string | undefined {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (san === null) return undefined;
  const ids = san.names.items.filter((n) => n.type === "url" && n.value.startsWith(DEVICE_URI_PREFIX)).map((n) => n.value.slice(DEVICE_URI_PREFIX.length));
  if (ids.length > 1) throw new CaError("BAD_CERTIFICATE", `leaf carries ${ids.length} device URIs`);
  const id = ids[0];
  if (id === undefined) return undefined;
  if (id.length === 0) throw new CaError("BAD_CERTIFICATE", `leaf carries an empty device URI`);
  return id;
}
