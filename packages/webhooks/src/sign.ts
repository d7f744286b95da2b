/**
 * Signatures as the Standard Webhooks specification defines them
 * (https://www.standardwebhooks.com): the secret is `whsec_` and base64 of the key; each
 * message carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`,
 * `v1,` and base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>"), so that a receiver can
 * check it with any of the specification's verifiers.
 */
import { createHmac } from "node:crypto";
import { Secret } from "@tether/crypto";

export const SECRET_PREFIX = "whsec_";
/** The shortest key the daemon accepts (the specification's libraries make 24-byte ones; 16 is the floor). */
export const MIN_SECRET_BYTES = 16;

/**
 * The key of a `whsec_...` secret (surrounding white space ignored).
 * @throws Error naming what is wrong, never the secret itself
 */
export function parseSecret(text: string): Secret<Uint8Array> {
  const t = text.trim();
  if (!t.startsWith(SECRET_PREFIX)) throw new Error(`a webhook secret starts with ${SECRET_PREFIX} (then base64 of the key)`);
  const b64 = t.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error(`a webhook secret is ${SECRET_PREFIX} and base64 of the key: this one is not base64`);
  const key = new Uint8Array(Buffer.from(b64, "base64"));
  if (key.length < MIN_SECRET_BYTES) throw new Error(`a webhook secret's key must be at least ${MIN_SECRET_BYTES} bytes; this one has ${key.length}`);
  return new Secret(key, "WebhookSecret");
}

/** `v1,<base64>`: the signature of one message. */
export function sign(key: Secret<Uint8Array>, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", key.expose()).update(`${id}.${timestampSeconds}.${body}`).digest("base64");
  return `v1,${mac}`;
}

/** The three headers of one delivery attempt, and the content type. */
export function signedHeaders(key: Secret<Uint8Array>, id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": sign(key, id, timestampSeconds, body),
  };
}
