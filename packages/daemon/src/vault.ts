/**
 * The key-encryption key (KEK) and the vault it seals: with a shared PostgreSQL store, the
 * CA, token, seal and signer keys live in the database's `vault` table, each item sealed
 * with AES-256-GCM under the KEK (the associated data names the item, so an item cannot be
 * moved to another name), so that every replica given the same KEK file is the same
 * authority and the database alone (a dump, a backup) holds no usable key
 * (docs/security.md, docs/scaling.md).
 *
 * The KEK file is `{"kek": "<64 hex digits>"}`, mode 0600, made by `tether ca new-kek`. Each
 * sealed item records the KEK's id (a hash of it, never the key), so a replica given another
 * key says so rather than failing to open an item.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createFileExclusive } from "@tether/base";
import type { Repository } from "@tether/base";
import { Secret, createSealer, fromHex, sha256Hex, toHex, transcript } from "@tether/crypto";
import type { KeyPlace } from "./authority.js";
import { DaemonError } from "./errors.js";

export type VaultRecord = { id: string; /** kekIdOf(the KEK it is sealed under) */ kek: string; /** nonce | ciphertext | tag, hex */ sealed: string };
export type VaultTables = { vault: VaultRecord };
export const VAULT_TABLE = "vault";

const KEK_BYTES = 32;

/** A KEK's public id: the first 16 hex digits of SHA-256 over a tagged transcript of it. */
export function kekIdOf(kek: Uint8Array): string {
  return sha256Hex(transcript("tether/kek-id/v1", [kek])).slice(0, 16);
}

/**
 * Read and check a KEK file: present, not readable by group or others, `{"kek": "<64 hex>"}`.
 * @throws DaemonError KEK_MISSING, KEK_FILE_MODE, BAD_KEK_FILE (nothing is read further)
 */
export function readKekFile(file: string): { kek: Secret<Uint8Array>; id: string } {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new DaemonError(
        "KEK_MISSING",
        `the key-encryption key file ${file} does not exist: for the first replica make one with \`tether ca new-kek ${file}\`; for another, copy the first replica's (docs/scaling.md, "Keys")`,
      );
    }
    throw new DaemonError("BAD_KEK_FILE", `the key-encryption key file ${file} cannot be read (${code ?? (err as Error).message})`, { cause: err });
  }
  if ((mode & 0o077) !== 0) {
    throw new DaemonError(
      "KEK_FILE_MODE",
      `the key-encryption key file ${file} is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, "0")}): it must be 0600 (chmod 600 ${file}), since it unseals the CA`,
    );
  }
  let key: Uint8Array | undefined;
  try {
    const hex = (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>).kek;
    if (typeof hex === "string") key = fromHex(hex, "kek");
  } catch {
    key = undefined;
  }
  if (key?.length !== KEK_BYTES)
    throw new DaemonError("BAD_KEK_FILE", `the key-encryption key file ${file} is not {"kek": "<64 hex digits>"} (as \`tether ca new-kek\` writes it)`);
  return { kek: new Secret(key, "KeyEncryptionKey"), id: kekIdOf(key) };
}

/**
 * `tether ca new-kek FILE`: a new random KEK in FILE (mode 0600), which must not exist.
 * @throws DaemonError KEK_EXISTS
 */
export function writeNewKek(file: string): { id: string } {
  const key = new Uint8Array(nodeRandomBytes(KEK_BYTES));
  if (!createFileExclusive(file, `${JSON.stringify({ kek: toHex(key) })}\n`, 0o600)) {
    throw new DaemonError("KEK_EXISTS", `${file} already exists: tether ca new-kek never replaces a key (the CA sealed under it would be lost); nothing was changed`);
  }
  return { id: kekIdOf(key) };
}

/**
 * A copy of a checked KEK file at `out` (mode 0600), which must not exist.
 * @throws DaemonError KEK_EXISTS
 */
export function writeKekCopy(kekFile: string, out: string): void {
  const { kek } = readKekFile(kekFile);
  if (!createFileExclusive(out, `${JSON.stringify({ kek: toHex(kek.expose()) })}\n`, 0o600)) {
    throw new DaemonError("KEK_EXISTS", `${out} already exists: export-kek never writes over a file; nothing was changed`);
  }
}

const aadOf = (name: string) => `tether/vault/v1/${name}`;

/**
 * The vault as a KeyPlace: every item is read and opened at once (a wrong key is found at
 * start, not at the first renewal); writes are sealed and committed before they resolve.
 * @throws DaemonError KEK_MISMATCH (items sealed under another KEK), VAULT_DAMAGED (an item
 *   that does not open under the right KEK)
 */
export async function openVault(repo: Repository<VaultTables>, kek: { kek: Secret<Uint8Array>; id: string }, kekFile: string): Promise<KeyPlace> {
  const sealer = createSealer(kek.kek.expose(), (n) => new Uint8Array(nodeRandomBytes(n)));
  const items = new Map<string, string>();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const r of await repo.list("vault")) {
    if (r.kek !== kek.id) {
      throw new DaemonError(
        "KEK_MISMATCH",
        `the database's keys are sealed under the key-encryption key ${r.kek}, but ${kekFile} holds ${kek.id}: give this replica the KEK file the others use (docs/scaling.md, "Keys"); nothing was changed`,
      );
    }
    try {
      items.set(r.id, decoder.decode(sealer.open(fromHex(r.sealed, "sealed"), aadOf(r.id))));
    } catch (cause) {
      throw new DaemonError("VAULT_DAMAGED", `the database's sealed key "${r.id}" does not open under ${kekFile} although it names that key: restore the database from a backup`, {
        cause,
      });
    }
  }
  const label = (name: string) => (name ? `the database's sealed key "${name}"` : "the database's key vault");
  const put = async (entries: [string, string][]) => {
    await repo.batch(
      entries.map(([id, text]) => ({
        table: "vault" as const,
        type: "put" as const,
        value: { id, kek: kek.id, sealed: toHex(sealer.seal(new TextEncoder().encode(text), aadOf(id))) },
      })),
    );
    for (const [id, text] of entries) items.set(id, text);
  };
  return {
    label,
    read: (name) => items.get(name),
    write: (name, text) => put([[name, text]]),
    isEmpty: () => items.size === 0,
    create: async (make) => {
      // Made in memory, then committed in one batch: all of the CA's items or none.
      const staged = new Map<string, string>();
      const into: KeyPlace = {
        label,
        read: (n) => staged.get(n),
        write: (n, t) => {
          staged.set(n, t);
          return Promise.resolve();
        },
        isEmpty: () => staged.size === 0,
        create: () => Promise.resolve(false),
      };
      await make(into);
      await put([...staged]);
      return true;
    },
  };
}
