/**
 * Checking a CRL from the daemon: it must be signed by tether's CA (ECDSA-SHA256 under the
 * CA key, issuer = CA subject). Nodes use this before trusting a CRL pushed on their stream.
 */
import { parseCertificate } from "./certificate.js";
import { CaError } from "./errors.js";
import { x509 } from "./provider.js";

/** What a good CRL says. Times are ms since epoch; serials are lowercase hex without leading zeros. */
export type VerifiedCrl = { thisUpdate: number; nextUpdate: number; crlNumber: number; revokedSerials: Set<string> };

/** Serials compare as numbers: lowercase hex without leading zeros. */
export function serialKey(hex: string): string {
  return hex.toLowerCase().replace(/^0+/, "");
}

/**
 * Verify `crlDer` against the CA certificate `caDer` and return its contents.
 * @throws {CaError} `BAD_CRL` if it does not parse, is not issued by this CA, is not signed by
 *   its key, or lacks nextUpdate or a CRL number; `BAD_CERTIFICATE` if `caDer` does not parse.
 */
export async function verifyCrl(crlDer: Uint8Array, caDer: Uint8Array): Promise<VerifiedCrl> {
  const ca = parseCertificate(caDer, "caDer");
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(crlDer);
  } catch (cause) {
    throw new CaError("BAD_CRL", "the CRL does not parse as DER X.509", { cause });
  }
  if (!Buffer.from(crl.issuerName.toArrayBuffer()).equals(Buffer.from(ca.subjectName.toArrayBuffer()))) {
    throw new CaError("BAD_CRL", `CRL issuer "${crl.issuer}" is not the CA subject "${ca.subject}"`);
  }
  let ok = false;
  try {
    ok = await crl.verify({ publicKey: ca.publicKey });
  } catch (cause) {
    throw new CaError("BAD_CRL", "the CRL signature could not be checked", { cause });
  }
  if (!ok) throw new CaError("BAD_CRL", "the CRL is not signed by the CA's key");
  if (!crl.nextUpdate) throw new CaError("BAD_CRL", "the CRL has no nextUpdate");
  const numberExt = crl.extensions.find((e) => e.type === "2.5.29.20");
  if (!numberExt) throw new CaError("BAD_CRL", "the CRL has no CRL number");
  // the extension's value is a DER INTEGER: 02 len bytes...
  const v = new Uint8Array(numberExt.value);
  if (v[0] !== 0x02 || v.length !== 2 + (v[1] ?? 0) || v.length > 9) throw new CaError("BAD_CRL", "the CRL number is not a small INTEGER");
  const crlNumber = Number.parseInt(Buffer.from(v.subarray(2)).toString("hex"), 16);
  return {
    thisUpdate: crl.thisUpdate.getTime(),
    nextUpdate: crl.nextUpdate.getTime(),
    crlNumber,
    revokedSerials: new Set(crl.entries.map((e) => serialKey(e.serialNumber))),
  };
}
