/**
 * Where the .proto files are and how they are loaded: one place, read both by the runtime
 * loader (index.ts) and by the type generator (scripts/gen-types.ts), so that the generated
 * TypeScript shapes describe exactly what loadSync decodes.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The name in the package.json of tether's root package (the checkout, or the installed package). */
const ROOT_PACKAGE_NAME = "tether";

/**
 * The directory of the tether package this module was loaded from: the checkout's root (this
 * file at packages/wire/src/) or the installed package's (bundled into dist/). Found by
 * walking up to the first package.json named "tether", so that it does not depend on where
 * the bundler put this code.
 * @throws Error when no such directory is above this module (a broken install)
 */
export function packageRoot(): string {
  return (manifest ??= findManifest()).dir;
}

/**
 * tether's version: the `version` of that root package.json, so that the CLI, the daemon and
 * the node SDK report the version of the checkout or the package they run from, never a
 * constant a release forgot to change.
 */
export function packageVersion(): string {
  return (manifest ??= findManifest()).version;
}

let manifest: { dir: string; version: string } | undefined;

function findManifest(): { dir: string; version: string } {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      try {
        const m = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
        if (m.name === ROOT_PACKAGE_NAME) return { dir, version: typeof m.version === "string" ? m.version : "unknown" };
      } catch {
        // not ours (unreadable or not JSON): keep walking up
      }
    }
    if (dirname(dir) === dir) throw new Error(`no package.json named ${JSON.stringify(ROOT_PACKAGE_NAME)} above ${start}: a broken install of tether`);
  }
}

/** proto/ of the tether package: the .proto files are shipped beside the code, not embedded. */
export const PROTO_DIR = join(packageRoot(), "proto");

/** Every file of the contract, relative to PROTO_DIR. */
export const PROTO_FILES = ["tether/v1/pairing.proto", "tether/v1/node.proto", "tether/v1/admin.proto", "tether/v1/orchestrator.proto", "tether/v1/peer.proto"] as const;

/**
 * The decoding options: camelCase names, int64 as a JS number (every int64 here is a ms
 * timestamp or a count, far below 2^53), enums as strings (there are none yet), every field
 * present with its default (message fields: null), and the virtual oneof field naming which
 * member is set. bytes are left at proto-loader's default, a Buffer.
 */
export const LOAD_OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true } as const;
