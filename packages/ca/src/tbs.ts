/**
 * DER encoding of the TBSCertificate of every leaf this CA issues and of the TBSCertList of
 * its CRLs (RFC 5280, 4.1 and 5.1), plus the signed envelopes around them. The layout is
 * byte for byte what `@peculiar/x509` produced for the same profile (test/ca-der.test.ts
 * holds that generator as the reference). Pure: no I/O, no clock, no signing.
 */
import { createHash } from "node:crypto";
import {
  Tag,
  bitString,
  boolean,
  explicit,
  ia5String,
  implicitPrimitive,
  isPrintable,
  octetString,
  oid,
  printableString,
  readChildren,
  readElement,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from "./der.js";
import { CaError } from "./errors.js";

/** A subjectAltName entry. `ip` holds the 4 or 16 address bytes. */
export type GeneralName = { type: "dns"; value: string } | { type: "uri"; value: string } | { type: "ip"; value: Uint8Array };

/** Extended key usages this CA writes. */
export type ExtKeyUsage = "serverAuth" | "clientAuth";

/** Everything that varies between two leaf certificates. Times are ms since epoch, whole seconds. */
export type LeafTbs = {
  /** Serial number magnitude, big-endian (encoded as a positive INTEGER). */
  serial: Uint8Array;
  /** The issuing CA's subject Name, DER, copied verbatim. */
  issuerNameDer: Uint8Array;
  commonName: string;
  organization: string;
  notBefore: number;
  notAfter: number;
  /** The subject's SubjectPublicKeyInfo, DER. */
  spkiDer: Uint8Array;
  /** The CA's subject key identifier, written as the AKI keyIdentifier. */
  authorityKeyId: Uint8Array;
  /** subjectAltName entries; the extension is left out when absent. */
  subjectAltNames?: GeneralName[];
  /** extendedKeyUsage; the extension is left out when absent. */
  extKeyUsage?: ExtKeyUsage[];
};

/** One revoked certificate: serial magnitude (big-endian) and revocation time in ms. */
export type RevokedEntry = { serial: Uint8Array; revokedAt: number };

/** Everything in a CRL's TBSCertList. */
export type CrlTbs = {
  issuerNameDer: Uint8Array;
  thisUpdate: number;
  nextUpdate: number;
  revoked: RevokedEntry[];
  authorityKeyId: Uint8Array;
  crlNumber: number;
};

const OID = {
  commonName: oid("2.5.4.3"),
  organization: oid("2.5.4.10"),
  basicConstraints: oid("2.5.29.19"),
  keyUsage: oid("2.5.29.15"),
  subjectAltName: oid("2.5.29.17"),
  extKeyUsage: oid("2.5.29.37"),
  subjectKeyIdentifier: oid("2.5.29.14"),
  authorityKeyIdentifier: oid("2.5.29.35"),
  crlNumber: oid("2.5.29.20"),
  serverAuth: oid("1.3.6.1.5.5.7.3.1"),
  clientAuth: oid("1.3.6.1.5.5.7.3.2"),
} as const;

/** AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), parameters absent (RFC 5758, 3.2). */
export const ECDSA_WITH_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));

const VERSION_V3 = explicit(0, smallInteger(2));
const VERSION_V2 = smallInteger(1);
/** basicConstraints critical, cA FALSE (the DEFAULT, so omitted): an empty SEQUENCE. */
const BASIC_CONSTRAINTS_LEAF = extension(OID.basicConstraints, true, sequence());
/** keyUsage critical digitalSignature: bit 0 set, 7 unused bits. */
const KEY_USAGE_DIGITAL_SIGNATURE = extension(OID.keyUsage, true, bitString(Uint8Array.of(0x80), 7));

/**
 * Encode a leaf TBSCertificate: v3, ecdsa-with-SHA256, subject `CN=<commonName>, O=<organization>`,
 * and extensions in this order: basicConstraints (critical, CA:FALSE), keyUsage (critical,
 * digitalSignature), subjectAltName, extendedKeyUsage, subjectKeyIdentifier, authorityKeyIdentifier.
 * @throws {CaError} `BAD_INPUT` if a time is outside 1950..9999, a DNS name or URI is not ASCII,
 *   an IP address is not 4 or 16 bytes, or `spkiDer` is not a SubjectPublicKeyInfo.
 */
export function leafTbsCertificate(p: LeafTbs): Uint8Array {
  const extensions = [BASIC_CONSTRAINTS_LEAF, KEY_USAGE_DIGITAL_SIGNATURE];
  if (p.subjectAltNames !== undefined) {
    extensions.push(extension(OID.subjectAltName, false, sequence(...p.subjectAltNames.map(generalName))));
  }
  if (p.extKeyUsage !== undefined) {
    extensions.push(extension(OID.extKeyUsage, false, sequence(...p.extKeyUsage.map((u) => OID[u]))));
  }
  extensions.push(extension(OID.subjectKeyIdentifier, false, octetString(subjectKeyIdentifier(p.spkiDer))), authorityKeyIdentifier(p.authorityKeyId));
  return sequence(
    VERSION_V3,
    unsignedInteger(p.serial),
    ECDSA_WITH_SHA256,
    p.issuerNameDer,
    sequence(time(p.notBefore, "notBefore"), time(p.notAfter, "notAfter")),
    subjectName(p.commonName, p.organization),
    p.spkiDer,
    explicit(3, sequence(...extensions)),
  );
}

/**
 * Encode a v2 TBSCertList: ecdsa-with-SHA256, thisUpdate, nextUpdate, the revoked entries
 * (left out when there are none), then the AKI and a non-critical CRL Number.
 * @throws {CaError} `BAD_INPUT` if a time is outside 1950..9999 or `crlNumber` is not a
 *   non-negative safe integer.
 */
export function crlTbsCertList(p: CrlTbs): Uint8Array {
  const fields = [VERSION_V2, ECDSA_WITH_SHA256, p.issuerNameDer, time(p.thisUpdate, "thisUpdate"), time(p.nextUpdate, "nextUpdate")];
  if (p.revoked.length > 0) {
    fields.push(
      sequence(
        ...p.revoked.map((r, i) =>
          // The empty crlEntryExtensions SEQUENCE matches what @peculiar/x509 wrote; strictly,
          // RFC 5280 wants the field omitted (Extensions is SIZE (1..MAX)).
          sequence(unsignedInteger(r.serial), time(r.revokedAt, `revoked[${i}].revokedAt`), sequence()),
        ),
      ),
    );
  }
  fields.push(explicit(0, sequence(authorityKeyIdentifier(p.authorityKeyId), extension(OID.crlNumber, false, smallInteger(p.crlNumber)))));
  return sequence(...fields);
}

/** Certificate or CertificateList: the TBS bytes, ecdsa-with-SHA256, and the DER ECDSA-Sig-Value. */
export function signedEnvelope(tbsDer: Uint8Array, signatureDer: Uint8Array): Uint8Array {
  return sequence(tbsDer, ECDSA_WITH_SHA256, bitString(signatureDer));
}

/**
 * The key identifier @peculiar/x509's `SubjectKeyIdentifierExtension.create` computes: SHA-1
 * of the subjectPublicKey BIT STRING's bits (RFC 5280, 4.2.1.2, method 1), i.e. of the EC point.
 * @throws {CaError} `BAD_INPUT` if `spkiDer` is not a SubjectPublicKeyInfo SEQUENCE.
 */
export function subjectKeyIdentifier(spkiDer: Uint8Array): Uint8Array {
  const outer = readElement(spkiDer, 0);
  const [algorithm, key] = readChildren(spkiDer, outer);
  if (outer.tag !== Tag.Sequence || outer.end !== spkiDer.length || algorithm === undefined || key?.tag !== Tag.BitString) {
    throw new CaError("BAD_INPUT", `"spkiDer" is not a SubjectPublicKeyInfo`);
  }
  return createHash("sha1")
    .update(spkiDer.subarray(key.contentStart + 1, key.end))
    .digest();
}

/**
 * The subject Name, DER, of the certificate `certDer`, exactly as it is stored there.
 * @throws {CaError} `BAD_CERTIFICATE` if `certDer` is not shaped like an X.509 certificate.
 */
export function certificateSubjectDer(certDer: Uint8Array): Uint8Array {
  const cert = readElement(certDer, 0, certDer.length, "BAD_CERTIFICATE");
  const [tbs] = readChildren(certDer, cert, "BAD_CERTIFICATE");
  const fields = tbs === undefined ? [] : readChildren(certDer, tbs, "BAD_CERTIFICATE");
  // version [0] is optional; then serial, signature, issuer, validity, subject.
  const subject = fields[fields[0]?.tag === 0xa0 ? 5 : 4];
  if (subject?.tag !== Tag.Sequence) throw new CaError("BAD_CERTIFICATE", `"certDer" has no subject Name`);
  return certDer.slice(subject.start, subject.end);
}

/**
 * `CN=<commonName>, O=<organization>`, one attribute per RDN. Like @peculiar/x509's JSON
 * names, each value is a PrintableString when its characters allow and a UTF8String otherwise.
 * (@peculiar/x509 also unescaped `\x` and `"..."` in the value; tether's names never carry them.)
 */
function subjectName(commonName: string, organization: string): Uint8Array {
  return sequence(attribute(OID.commonName, commonName), attribute(OID.organization, organization));
}

function attribute(type: Uint8Array, value: string): Uint8Array {
  return set(sequence(type, isPrintable(value) ? printableString(value) : utf8String(value)));
}

function extension(id: Uint8Array, critical: boolean, value: Uint8Array): Uint8Array {
  // critical is DEFAULT FALSE, so DER leaves it out unless it is TRUE.
  return critical ? sequence(id, boolean(true), octetString(value)) : sequence(id, octetString(value));
}

function authorityKeyIdentifier(keyId: Uint8Array): Uint8Array {
  return extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, keyId)));
}

function generalName(name: GeneralName): Uint8Array {
  switch (name.type) {
    case "dns":
      return ia5String(name.value, 0x82); // dNSName [2] IA5String
    case "uri":
      return ia5String(name.value, 0x86); // uniformResourceIdentifier [6] IA5String
    case "ip":
      if (name.value.length !== 4 && name.value.length !== 16) {
        throw new CaError("BAD_INPUT", `"ip" expected 4 or 16 bytes, got ${name.value.length}`);
      }
      return implicitPrimitive(7, name.value); // iPAddress [7] OCTET STRING
  }
}
