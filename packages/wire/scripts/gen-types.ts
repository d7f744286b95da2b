/**
 * Generates the TypeScript message types of the wire contract (packages/wire/src/gen/) from
 * proto/ with proto-loader-gen-types, the generator that ships with @grpc/proto-loader, using
 * the very LOAD_OPTIONS the runtime loader decodes with, so that a type says what a decoded
 * message holds. With --check it generates into a temporary directory instead and fails,
 * naming each file, when the checked-in ones differ: `npm test` runs it, so a proto edited
 * without `npm run gen` cannot pass.
 *   node --import tsx packages/wire/scripts/gen-types.ts           regenerate   (npm run gen)
 *   node --import tsx packages/wire/scripts/gen-types.ts --check   compare only (npm run gen:check)
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LOAD_OPTIONS, PROTO_DIR, PROTO_FILES } from "../src/protos.js";

export const GEN_DIR = fileURLToPath(new URL("../src/gen", import.meta.url));

export const GENERATED_HEADER = [
  "// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`",
  "// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.",
  "// Lint and format tools skip it: change the .proto and regenerate instead.",
].join("\n");

/**
 * The generator's flags for LOAD_OPTIONS. Each option proto-loader's loader takes has its
 * counterpart here; one this function does not know is an error, not silently dropped, so the
 * types cannot drift from the decoding.
 * @throws Error on an option with no known flag, or a value the generator cannot express
 */
export function generatorFlags(options: Readonly<Record<string, unknown>> = LOAD_OPTIONS): string[] {
  const flags: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    switch (key) {
      case "keepCase":
      case "defaults":
      case "arrays":
      case "objects":
      case "oneofs":
      case "json":
        if (typeof value !== "boolean") throw new Error(`LOAD_OPTIONS.${key}: expected a boolean`);
        if (value) flags.push(`--${key}`);
        break;
      case "longs":
      case "enums":
      case "bytes":
        // the loader takes the constructor (String, Number, Array); the generator its name
        if (value !== String && value !== Number && value !== Array) throw new Error(`LOAD_OPTIONS.${key}: expected String, Number or Array`);
        flags.push(`--${key}=${(value as { name: string }).name}`);
        break;
      default:
        throw new Error(`LOAD_OPTIONS.${key}: no proto-loader-gen-types flag is known for it; teach generatorFlags() before using it`);
    }
  }
  return flags;
}

function generatorBin(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve("@grpc/proto-loader/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { bin: Record<string, string> };
  const bin = pkg.bin["proto-loader-gen-types"];
  if (!bin) throw new Error("@grpc/proto-loader has no proto-loader-gen-types bin");
  return join(dirname(pkgPath), bin);
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => f.split("\\").join("/"))
    .sort();
}

/**
 * Generates the types of `protoDir` (a directory laid out as proto/, holding PROTO_FILES)
 * into `outDir`, which must not exist yet. It runs with the directory above `protoDir` as its
 * working directory so that each file's "Original file: proto/..." line does not depend on
 * where the checkout is.
 * @throws Error when the generator fails (its stderr is in the message)
 */
export function generate(outDir: string, protoDir: string = PROTO_DIR): void {
  const raw = mkdtempSync(join(tmpdir(), "tether-wire-gen-"));
  try {
    const args = [generatorBin(), ...generatorFlags(), "--includeComments", "--importFileExtension=.js", "-I", basename(protoDir), "-O", raw, ...PROTO_FILES];
    const run = spawnSync(process.execPath, args, { cwd: dirname(protoDir), encoding: "utf8" });
    if (run.status !== 0) throw new Error(`proto-loader-gen-types failed (${run.status ?? run.signal}): ${run.stderr || run.stdout}`);
    const files = listFiles(raw);
    if (files.length === 0) throw new Error("proto-loader-gen-types wrote no files");
    for (const f of files) {
      const text = readFileSync(join(raw, f), "utf8");
      writeFileSync(join(raw, f), `${GENERATED_HEADER}\n${text}`);
    }
    cpSync(raw, outDir, { recursive: true, errorOnExist: true, force: false });
  } finally {
    rmSync(raw, { recursive: true, force: true });
  }
}

export type Staleness = { file: string; problem: "stale" | "missing" | "not generated" };

/**
 * What differs between the checked-in directory and a fresh generation: files whose content
 * differs ("stale"), files the protos now produce that are not checked in ("missing"), and
 * checked-in files the protos no longer produce ("not generated"). Empty when up to date.
 */
export function compare(checkedIn: string, fresh: string): Staleness[] {
  const have = new Set(listFiles(checkedIn));
  const want = new Set(listFiles(fresh));
  const out: Staleness[] = [];
  for (const f of [...new Set([...have, ...want])].sort()) {
    if (!have.has(f)) out.push({ file: f, problem: "missing" });
    else if (!want.has(f)) out.push({ file: f, problem: "not generated" });
    else if (!readFileSync(join(checkedIn, f)).equals(readFileSync(join(fresh, f)))) out.push({ file: f, problem: "stale" });
  }
  return out;
}

/** Generates from `protoDir` into a temporary directory and compares it with `checkedIn`. */
export function check(checkedIn: string = GEN_DIR, protoDir: string = PROTO_DIR): Staleness[] {
  const tmp = mkdtempSync(join(tmpdir(), "tether-wire-check-"));
  try {
    const fresh = join(tmp, "gen");
    generate(fresh, protoDir);
    return compare(checkedIn, fresh);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const USAGE = "usage: gen-types.ts [--check] [--proto-dir DIR] [--gen-dir DIR]";

/** The command line; --proto-dir and --gen-dir (default proto/ and src/gen/) are for tests. */
export function main(argv: readonly string[]): number {
  let values: { check?: boolean; "proto-dir"?: string; "gen-dir"?: string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { check: { type: "boolean" }, "proto-dir": { type: "string" }, "gen-dir": { type: "string" } }, strict: true }));
  } catch (err) {
    console.error(`gen-types: ${(err as Error).message} (${USAGE})`);
    return 2;
  }
  const protoDir = resolve(values["proto-dir"] ?? PROTO_DIR);
  const genDir = resolve(values["gen-dir"] ?? GEN_DIR);
  const shown = relative(process.cwd(), genDir) || ".";
  if (values.check) {
    const problems = check(genDir, protoDir);
    for (const p of problems) console.error(`${p.problem}: ${shown}/${p.file}`);
    if (problems.length) {
      console.error(
        `gen-types: ${problems.length} generated file(s) differ from what ${relative(process.cwd(), protoDir) || "."}/ produces; run \`npm run gen\` and commit the result`,
      );
      return 1;
    }
    console.log(`gen-types: ${shown} is up to date`);
    return 0;
  }
  // the directory is replaced whole (so a message removed from proto/ loses its file): only
  // when it holds nothing but generated files
  const foreign = listFiles(genDir).filter((f) => !readFileSync(join(genDir, f), "utf8").startsWith(GENERATED_HEADER));
  if (foreign.length) {
    console.error(`gen-types: ${shown}/${foreign[0]} was not written by gen-types; not replacing ${shown}`);
    return 1;
  }
  const tmp = mkdtempSync(join(tmpdir(), "tether-wire-gen-out-"));
  try {
    generate(join(tmp, "gen"), protoDir);
    rmSync(genDir, { recursive: true, force: true });
    cpSync(join(tmp, "gen"), genDir, { recursive: true });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`gen-types: wrote ${listFiles(genDir).length} files to ${shown}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) process.exitCode = main(process.argv.slice(2));
