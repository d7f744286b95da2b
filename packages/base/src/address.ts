/** Network addresses as operators type them. */

/** HOST:PORT split (IPv6 as [ADDR]:PORT, port 0 to 65535); undefined when it is not one. */
export function splitHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}
