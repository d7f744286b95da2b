/**
 * Where the .proto files are and how they are loaded: one place, read both by the runtime
 * loader (index.ts) and by the type generator (scripts/gen-types.ts), so that the generated
 * TypeScript shapes describe exactly what loadSync decodes.
 */
import { fileURLToPath } from "node:url";

export const PROTO_DIR = fileURLToPath(new URL("../../../proto", import.meta.url));

/** Every file of the contract, relative to PROTO_DIR. */
export const PROTO_FILES = ["tether/v1/pairing.proto", "tether/v1/node.proto", "tether/v1/admin.proto", "tether/v1/orchestrator.proto", "tether/v1/peer.proto"] as const;

/**
 * The decoding options: camelCase names, int64 as a JS number (every int64 here is a ms
 * timestamp or a count, far below 2^53), enums as strings (there are none yet), every field
 * present with its default (message fields: null), and the virtual oneof field naming which
 * member is set. bytes are left at proto-loader's default, a Buffer.
 */
export const LOAD_OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true } as const;
