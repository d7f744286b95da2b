/**
 * Classification and validation of the daemon's server hosts into subjectAltName entries:
 * IPv4 / IPv6 literals become iPAddress bytes, anything else must be a DNS name.
 */
import { isIP } from "node:net";
import { CaError } from "./errors.js";
import type { GeneralName } from "./tbs.js";

const DNS_NAME_RE = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Turn `hosts` into SAN entries, in order, dropping repeats. DNS names are lowercased; IPv6 is
 * canonicalised first (so `::ffff:1.2.3.4` and `::ffff:102:304` are one entry).
 * @throws {CaError} `BAD_INPUT` if `hosts` is not a non-empty array, or an entry is not a
 *   string, an IP literal (zone ids are refused) or a DNS name.
 */
export function hostNames(hosts: unknown): GeneralName[] {
  if (!Array.isArray(hosts) || hosts.length === 0) {
    throw new CaError("BAD_INPUT", `"hosts" expected a non-empty array of DNS names or IP literals`);
  }
  const seen = new Set<string>();
  const names: GeneralName[] = [];
  hosts.forEach((host: unknown, i) => {
    const label = `hosts[${i}]`;
    if (typeof host !== "string") throw new CaError("BAD_INPUT", `"${label}" expected string, got ${typeof host}`);
    let name: GeneralName;
    let key: string;
    const family = isIP(host);
    if (family === 4) {
      name = { type: "ip", value: Uint8Array.from(host.split("."), Number) };
      key = `ip:${host}`;
    } else if (family === 6) {
      const canonical = canonicalIpv6(host, label);
      name = { type: "ip", value: ipv6Bytes(canonical, label) };
      key = `ip:${canonical}`;
    } else {
      const dns = host.toLowerCase();
      if (dns.length > 253 || !DNS_NAME_RE.test(dns)) {
        throw new CaError("BAD_INPUT", `"${label}" is neither an IP literal nor a DNS name: ${JSON.stringify(host)}`);
      }
      name = { type: "dns", value: dns };
      key = `dns:${dns}`;
    }
    if (!seen.has(key)) {
      seen.add(key);
      names.push(name);
    }
  });
  return names;
}

/** WHATWG URL serialisation of an IPv6 literal: lowercase hex groups, `::` compression, no dotted quad. */
function canonicalIpv6(host: string, label: string): string {
  try {
    return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  } catch (cause) {
    throw new CaError("BAD_INPUT", `"${label}" is not an IPv6 literal usable in a certificate: ${JSON.stringify(host)}`, { cause });
  }
}

/** 16 bytes of a canonical IPv6 text (hex groups with at most one `::`). */
function ipv6Bytes(canonical: string, label: string): Uint8Array {
  const [head = "", tail, extra] = canonical.split("::");
  const groups = (part: string | undefined): string[] => (part === undefined || part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = groups(tail);
  const missing = 8 - left.length - right.length;
  const all = [...left, ...new Array<string>(tail === undefined ? 0 : missing).fill("0"), ...right];
  if (extra !== undefined || all.length !== 8 || !all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) {
    throw new CaError("BAD_INPUT", `"${label}" is not an IPv6 literal: ${JSON.stringify(canonical)}`);
  }
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    bytes[2 * i] = v >> 8;
    bytes[2 * i + 1] = v & 0xff;
  });
  return bytes;
}
