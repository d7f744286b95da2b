/**
 * tether's certificate authority: creates the self-signed root and issues the daemon's
 * server and pairing-signer certificates and the nodes' mTLS client certificates.
 * Pure given the CA key, `now` and `randomBytes`: no file, network or clock access.
 */
import { sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { inspect } from "node:util";
import type { RandomBytes } from "./defaults.js";
import {
  CLOCK_SKEW_BACKDATE_MS,
  DEFAULT_CA_LIFETIME_MS,
  DEFAULT_NODE_CERT_LIFETIME_MS,
  DEFAULT_SERVER_CERT_LIFETIME_MS,
  DEVICE_URI_PREFIX,
  REPLICA_CERT_LIFETIME_MS,
  REPLICA_URI_PREFIX,
  ORGANIZATION,
  SERVER_COMMON_NAME,
  SIGNER_COMMON_NAME,
} from "./defaults.js";
import { lifetime, randomSerialHex, text, timestamp } from "./checks.js";
import { isCa, parseCertificate, validityOf } from "./certificate.js";
import { derToPem, certFingerprint, spkiFingerprint } from "./encoding.js";
import { CaError } from "./errors.js";
import { hostNames } from "./hosts.js";
import { parseP256Pkcs8, requireP256Spki } from "./keys.js";
import { EC_P256, ECDSA_SHA256, webcrypto, x509 } from "./provider.js";
import { certificateSubjectDer, crlTbsCertList, leafTbsCertificate, signedEnvelope } from "./tbs.js";
import type { ExtKeyUsage, GeneralName } from "./tbs.js";

/** A CA certificate and its private key, both DER. `keyPkcs8Der` is secret. */
export type KeyMaterial = { certDer: Uint8Array; keyPkcs8Der: Uint8Array };

/** Result of {@link CertificateAuthority.issueNodeCert}; times are ms since epoch (whole seconds). */
export type IssuedNodeCert = {
  certDer: Uint8Array;
  /** Lowercase hex of the serial number (32 digits). */
  serialHex: string;
  /** Hex SHA-256 of `certDer`. */
  fingerprint: string;
  notBefore: number;
  notAfter: number;
};

/** Device ids go into a CN and a URN, so keep them to URN-safe unreserved characters. */
const DEVICE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;
const DEVICE_ID_MAX = 64; // RFC 5280 ub-common-name
const COMMON_NAME_RE = /^[^\u0000-\u001f\u007f]+$/u;
/** CRL entries name serials as 1..40 hex digits (up to RFC 5280's 20 octets). */
const CRL_SERIAL_RE = /^[0-9a-f]{2,40}$/i;

/**
 * Create a self-signed root CA with a fresh P-256 key: subject `CN=<commonName>, O=tether`,
 * basicConstraints critical CA:TRUE pathLen 0, keyUsage critical keyCertSign|cRLSign,
 * SKI (and AKI = SKI). notBefore is backdated by {@link CLOCK_SKEW_BACKDATE_MS}.
 * The serial comes from `randomBytes`; the key and ECDSA nonces come from the platform CSPRNG.
 * @throws {CaError} `BAD_INPUT` if `commonName`, `now`, `lifetimeMs` or `randomBytes` fail their checks.
 */
export async function createRootCa(opts: { commonName: string; now: number; lifetimeMs?: number; randomBytes: RandomBytes }): Promise<KeyMaterial> {
  const commonName = text(opts.commonName, "commonName", COMMON_NAME_RE, 64);
  const now = timestamp(opts.now, "now");
  const lifetimeMs = lifetime(opts.lifetimeMs, DEFAULT_CA_LIFETIME_MS, "lifetimeMs");
  const serialNumber = randomSerialHex(opts.randomBytes, "randomBytes");
  const keys = await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber,
    name: subjectName(commonName),
    notBefore: new Date(floorToSecond(now - CLOCK_SKEW_BACKDATE_MS)),
    notAfter: new Date(floorToSecond(now + lifetimeMs)),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ski,
      new x509.AuthorityKeyIdentifierExtension(ski.keyId),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { certDer: new Uint8Array(cert.rawData), keyPkcs8Der: new Uint8Array(pkcs8) };
}

/** A loaded CA able to issue leaf certificates. Construct with {@link CertificateAuthority.load}. */
export class CertificateAuthority {
  /** The CA certificate, DER. */
  readonly certDer: Uint8Array;
  /** The CA certificate, PEM (with trailing newline). */
  readonly certPem: string;
  /** Hex SHA-256 of the CA certificate's SubjectPublicKeyInfo DER: the pinned "CA fingerprint". */
  readonly fingerprint: string;
  /** CA validity window, ms since epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** The CA's private key, made once; every certificate and CRL is signed with it. */
  readonly #signingKey: KeyObject;
  /** The CA's subject Name exactly as its certificate stores it: every issuer field copies it. */
  readonly #issuerNameDer: Uint8Array;
  readonly #authorityKeyId: Uint8Array;

  private constructor(cert: x509.X509Certificate, signingKey: KeyObject, authorityKeyId: string) {
    this.#signingKey = signingKey;
    this.#authorityKeyId = Uint8Array.from(Buffer.from(authorityKeyId, "hex"));
    this.certDer = new Uint8Array(cert.rawData);
    this.#issuerNameDer = certificateSubjectDer(this.certDer);
    this.certPem = derToPem(this.certDer, "CERTIFICATE");
    this.fingerprint = spkiFingerprint(new Uint8Array(cert.publicKey.rawData));
    const { notBefore, notAfter } = validityOf(cert);
    this.notBefore = notBefore;
    this.notAfter = notAfter;
  }

  /**
   * Load a CA from DER material, checking that the certificate is a self-signed P-256 CA
   * (basicConstraints CA:TRUE, keyUsage keyCertSign) and that the private key belongs to it.
   * @throws {CaError} `BAD_INPUT` if `material` is not an object; `BAD_CERTIFICATE` if the
   *   certificate does not parse, is not P-256 or is not validly self-signed; `NOT_A_CA` if it
   *   lacks the CA extensions; `BAD_PRIVATE_KEY` if the key is not PKCS#8 P-256;
   *   `KEY_MISMATCH` if the key does not match the certificate.
   */
  static async load(material: KeyMaterial): Promise<CertificateAuthority> {
    if (typeof material !== "object" || material === null) {
      throw new CaError("BAD_INPUT", `"material" expected { certDer, keyPkcs8Der }, got ${material === null ? "null" : typeof material}`);
    }
    const cert = parseCertificate(material.certDer, "certDer");
    const certSpki = new Uint8Array(cert.publicKey.rawData);
    try {
      requireP256Spki(certSpki, "certDer.subjectPublicKeyInfo");
    } catch (cause) {
      throw new CaError("BAD_CERTIFICATE", `"certDer" does not carry an EC P-256 public key`, { cause });
    }
    if (!isCa(cert)) throw new CaError("NOT_A_CA", `"certDer" lacks basicConstraints CA:TRUE`);
    const usage = cert.getExtension(x509.KeyUsagesExtension);
    if (usage !== null && (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
      throw new CaError("NOT_A_CA", `"certDer" keyUsage lacks keyCertSign`);
    }
    const selfSigned = cert.subject === cert.issuer && (await cert.verify({ publicKey: cert.publicKey, signatureOnly: true }));
    if (!selfSigned) throw new CaError("BAD_CERTIFICATE", `"certDer" is not a self-signed root`);

    const { key: signingKey, publicKeySpkiDer } = parseP256Pkcs8(material.keyPkcs8Der, "keyPkcs8Der");
    if (!Buffer.from(publicKeySpkiDer).equals(certSpki)) {
      throw new CaError("KEY_MISMATCH", `"keyPkcs8Der" does not match the public key in "certDer"`);
    }
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    const keyId = ski?.keyId ?? (await x509.SubjectKeyIdentifierExtension.create(cert.publicKey)).keyId;
    return new CertificateAuthority(cert, signingKey, keyId);
  }

  /**
   * Issue the daemon's TLS server certificate: subject `CN=tether daemon, O=tether`,
   * SAN with each host (IPv4/IPv6 literals as iPAddress, otherwise dNSName), EKU serverAuth,
   * keyUsage critical digitalSignature, basicConstraints critical CA:FALSE, AKI+SKI, a random
   * 16-byte serial, notBefore backdated by {@link CLOCK_SKEW_BACKDATE_MS}. notAfter is capped
   * at the CA's notAfter.
   * @returns the certificate, DER.
   * @throws {CaError} `BAD_PUBLIC_KEY` if `publicKeySpkiDer` is not a P-256 SPKI; `BAD_INPUT` for
   *   an empty or malformed `hosts` entry or a bad `now` / `lifetimeMs` / `randomBytes`;
   *   `CA_NOT_VALID` if `now` is outside the CA's validity.
   */
  async issueServerCert(opts: { publicKeySpkiDer: Uint8Array; hosts: string[]; now: number; lifetimeMs?: number; randomBytes: RandomBytes }): Promise<Uint8Array> {
    const names = hostNames(opts.hosts);
    const { cert } = this.#issue(opts, DEFAULT_SERVER_CERT_LIFETIME_MS, SERVER_COMMON_NAME, names, "serverAuth");
    return cert;
  }

  /**
   * Issue the pairing-signer certificate the daemon uses to sign handshake transcripts:
   * subject `CN=tether pairing signer, O=tether`, keyUsage critical digitalSignature only,
   * no EKU, basicConstraints critical CA:FALSE, AKI+SKI, random serial, backdated notBefore.
   * @returns the certificate, DER.
   * @throws {CaError} `BAD_PUBLIC_KEY`, `BAD_INPUT` or `CA_NOT_VALID` as for {@link issueServerCert}.
   */
  async issueSignerCert(opts: { publicKeySpkiDer: Uint8Array; now: number; lifetimeMs?: number; randomBytes: RandomBytes }): Promise<Uint8Array> {
    const { cert } = this.#issue(opts, DEFAULT_SERVER_CERT_LIFETIME_MS, SIGNER_COMMON_NAME, undefined, undefined);
    return cert;
  }

  /**
   * Issue a node's mTLS client certificate: subject `CN=<deviceId>, O=tether`, SAN URI
   * `urn:tether:device:<deviceId>`, EKU clientAuth only, keyUsage critical digitalSignature,
   * basicConstraints critical CA:FALSE, AKI+SKI, random 16-byte serial,
   * notBefore = now - {@link CLOCK_SKEW_BACKDATE_MS}, notAfter = now + lifetime (both rounded
   * down to whole seconds, notAfter capped at the CA's notAfter).
   * @throws {CaError} `BAD_PUBLIC_KEY` if `publicKeySpkiDer` is not a canonical EC P-256 SPKI;
   *   `BAD_INPUT` if `deviceId` is not 1..64 of `[A-Za-z0-9._~-]` (leading alphanumeric) or
   *   `now` / `lifetimeMs` / `randomBytes` fail their checks; `CA_NOT_VALID` if `now` is
   *   outside the CA's validity.
   */
  async issueNodeCert(opts: { deviceId: string; publicKeySpkiDer: Uint8Array; now: number; lifetimeMs?: number; randomBytes: RandomBytes }): Promise<IssuedNodeCert> {
    const deviceId = text(opts.deviceId, "deviceId", DEVICE_ID_RE, DEVICE_ID_MAX);
    const uri: GeneralName = { type: "uri", value: DEVICE_URI_PREFIX + deviceId };
    const issued = this.#issue(opts, DEFAULT_NODE_CERT_LIFETIME_MS, deviceId, [uri], "clientAuth");
    return {
      certDer: issued.cert,
      serialHex: issued.serialHex,
      fingerprint: certFingerprint(issued.cert),
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
    };
  }

  /**
   * A device's peer-server certificate: like issueNodeCert (URI SAN with the device id) but
   * with EKU serverAuth only, so that a device can serve other devices over TLS while its
   * client certificate stays clientAuth-only.
   */
  async issuePeerServerCert(opts: { deviceId: string; publicKeySpkiDer: Uint8Array; now: number; lifetimeMs?: number; randomBytes: RandomBytes }): Promise<IssuedNodeCert> {
    const deviceId = text(opts.deviceId, "deviceId", DEVICE_ID_RE, DEVICE_ID_MAX);
    const uri: GeneralName = { type: "uri", value: DEVICE_URI_PREFIX + deviceId };
    const issued = this.#issue(opts, DEFAULT_NODE_CERT_LIFETIME_MS, deviceId, [uri], "serverAuth");
    return { certDer: issued.cert, serialHex: issued.serialHex, fingerprint: certFingerprint(issued.cert), notBefore: issued.notBefore, notAfter: issued.notAfter };
  }

  /**
   * A replica daemon's client certificate, with which it forwards calls to the active daemon
   * (docs/scaling.md): subject `CN=<replicaId>, O=tether`, SAN URI
   * `urn:tether:replica:<replicaId>`, EKU clientAuth only, a day's lifetime by default. Only a
   * holder of the CA key (a daemon given the key-encryption key) can make one.
   */
  async issueReplicaCert(opts: { replicaId: string; publicKeySpkiDer: Uint8Array; now: number; lifetimeMs?: number; randomBytes: RandomBytes }): Promise<IssuedNodeCert> {
    const replicaId = text(opts.replicaId, "replicaId", DEVICE_ID_RE, DEVICE_ID_MAX);
    const uri: GeneralName = { type: "uri", value: REPLICA_URI_PREFIX + replicaId };
    const issued = this.#issue(opts, REPLICA_CERT_LIFETIME_MS, replicaId, [uri], "clientAuth");
    return { certDer: issued.cert, serialHex: issued.serialHex, fingerprint: certFingerprint(issued.cert), notBefore: issued.notBefore, notAfter: issued.notAfter };
  }

  /** Never print the key; show which CA this is. */
  [inspect.custom](): string {
    return `CertificateAuthority(fingerprint=${this.fingerprint})`;
  }

  toJSON(): { fingerprint: string; certPem: string } {
    return { fingerprint: this.fingerprint, certPem: this.certPem };
  }

  /**
   * Check the common inputs, then encode the TBSCertificate (see tbs.ts for the profile) and
   * sign it with the CA key. Synchronous: one native ECDSA signature, no WebCrypto round trip.
   */
  #issue(
    opts: { publicKeySpkiDer: Uint8Array; now: number; lifetimeMs?: number; randomBytes: RandomBytes },
    defaultLifetimeMs: number,
    commonName: string,
    subjectAltNames: GeneralName[] | undefined,
    extKeyUsage: ExtKeyUsage | undefined,
  ): { cert: Uint8Array; serialHex: string; notBefore: number; notAfter: number } {
    if (typeof opts !== "object" || opts === null) throw new CaError("BAD_INPUT", `"opts" expected object`);
    const spki = requireP256Spki(opts.publicKeySpkiDer, "publicKeySpkiDer");
    const now = timestamp(opts.now, "now");
    const lifetimeMs = lifetime(opts.lifetimeMs, defaultLifetimeMs, "lifetimeMs");
    if (now < this.notBefore || now > this.notAfter) {
      throw new CaError(
        "CA_NOT_VALID",
        `CA certificate is not valid at ${new Date(now).toISOString()} (valid ${new Date(this.notBefore).toISOString()} .. ${new Date(this.notAfter).toISOString()})`,
      );
    }
    const serialHex = randomSerialHex(opts.randomBytes, "randomBytes");
    const notBefore = floorToSecond(now - CLOCK_SKEW_BACKDATE_MS);
    const notAfter = Math.min(floorToSecond(now + lifetimeMs), this.notAfter);
    const tbs = leafTbsCertificate({
      serial: Buffer.from(serialHex, "hex"),
      issuerNameDer: this.#issuerNameDer, // byte-identical issuer DN, so path building matches
      commonName,
      organization: ORGANIZATION,
      notBefore,
      notAfter,
      spkiDer: spki,
      authorityKeyId: this.#authorityKeyId,
      ...(subjectAltNames === undefined ? {} : { subjectAltNames }),
      ...(extKeyUsage === undefined ? {} : { extKeyUsage: [extKeyUsage] }),
    });
    return { cert: this.#sign(tbs), serialHex, notBefore, notAfter };
  }

  /** Wrap TBS bytes (certificate or CRL) with ecdsa-with-SHA256 and the CA's signature over them. */
  #sign(tbsDer: Uint8Array): Uint8Array {
    const signature = sign("sha256", tbsDer, { key: this.#signingKey, dsaEncoding: "der" });
    return signedEnvelope(tbsDer, signature);
  }

  /**
   * A signed X.509 v2 CRL listing `revoked` serials, with the Authority Key Identifier and a
   * CRL Number (RFC 5280, 5.2.1 and 5.2.3), valid from `now` to `now + nextUpdateMs`.
   * Entries keep their order; serials are read as unsigned hex (leading zeros dropped).
   * @throws {CaError} BAD_INPUT for a bad serial, a serial listed twice, a bad number, or a
   *   `now` / `nextUpdateMs` / `revokedAt` that is not a time in 1950..9999.
   */
  async issueCrl(opts: { revoked: { serialHex: string; revokedAt: number }[]; now: number; crlNumber: number; nextUpdateMs: number }): Promise<Uint8Array> {
    const now = timestamp(opts.now, "now");
    if (!Number.isSafeInteger(opts.crlNumber) || opts.crlNumber < 1) throw new CaError("BAD_INPUT", '"crlNumber" must be a positive integer');
    if (!Array.isArray(opts.revoked)) throw new CaError("BAD_INPUT", '"revoked" expected an array');
    const seen = new Set<string>();
    const revoked = opts.revoked.map((r) => {
      if (typeof r?.serialHex !== "string" || !CRL_SERIAL_RE.test(r.serialHex)) {
        throw new CaError("BAD_INPUT", `bad serial ${JSON.stringify(r?.serialHex)}`);
      }
      const serial = Buffer.from(r.serialHex.length % 2 ? `0${r.serialHex}` : r.serialHex, "hex");
      const key = serial.toString("hex").replace(/^(00)+(?=..)/, "");
      if (seen.has(key)) throw new CaError("BAD_INPUT", `serial ${r.serialHex} is listed twice`);
      seen.add(key);
      return { serial, revokedAt: floorToSecond(r.revokedAt) };
    });
    const tbs = crlTbsCertList({
      issuerNameDer: this.#issuerNameDer,
      thisUpdate: floorToSecond(now),
      nextUpdate: floorToSecond(now + opts.nextUpdateMs),
      revoked,
      authorityKeyId: this.#authorityKeyId,
      crlNumber: opts.crlNumber,
    });
    return this.#sign(tbs);
  }
}

/** RDN sequence CN then O, which renders as "CN=<cn>, O=tether". */
function subjectName(commonName: string): x509.JsonName {
  return [{ CN: [commonName] }, { O: [ORGANIZATION] }];
}

function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}
