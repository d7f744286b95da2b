/**
 * The integrity tether adds to LevelDB, whose own checks the binding does not expose
 * (classic-level opens with `paranoid_checks` off and reads with `verify_checksums` off, so a
 * damaged table block is returned as it is, and a damaged write-ahead log is skipped with only
 * a line in LevelDB's `LOG` file):
 *
 * - every record is stored as 8 hex digits of CRC-32 over its table, key and JSON, then the
 *   JSON, and the checksum is verified on every read;
 * - the lines LevelDB writes to `LOG` while it recovers its write-ahead log at open are read
 *   back, so that bytes it dropped are known;
 * - a witness file beside the store (`tether-witness`) holds the sequence number of the last
 *   durable (fsynced) group commit, written after that commit without an fsync of its own: it
 *   may lag after a power loss but never runs ahead, so a store that ends before it has lost
 *   writes that were confirmed;
 * - damage found at open is recorded in `tether-damage.json`, because LevelDB's recovery
 *   removes the evidence (it rewrites the log into a table file and deletes it): later opens
 *   refuse until `tether store repair` clears it.
 */
import { existsSync, readFileSync, unlinkSync } from "node:fs";
import { basename, join } from "node:path";
import * as zlib from "node:zlib";
import { writeFileAtomic } from "@tether/base";

export const WITNESS_FILE = "tether-witness";
export const DAMAGE_FILE = "tether-damage.json";

/** What a check can find wrong with a store. */
export const ProblemKind = {
  /** LevelDB refuses to open it (a missing table file, a damaged MANIFEST or CURRENT) */
  Unopenable: "unopenable",
  /** LevelDB skipped damaged bytes of a write-ahead log while recovering it */
  WalDamaged: "wal-damaged",
  /** the store ends before the last write the witness saw confirmed */
  LostWrites: "lost-writes",
  /** the witness file is missing or unreadable, so lost writes cannot be ruled out */
  Witness: "witness",
  /** the schema or write-sequence record is missing or damaged */
  Meta: "meta",
  /** a record fails its checksum, or a key names no table */
  BadRecord: "bad-record",
  /** something the caller checks on top (e.g. the audit chain's head) */
  Content: "content",
} as const;
export type ProblemKind = (typeof ProblemKind)[keyof typeof ProblemKind];

export type StoreProblem = {
  kind: ProblemKind;
  message: string;
  /** bad-record: the record's table and key (raw: the whole LevelDB key, when it names no table) */
  table?: string;
  key?: string;
  raw?: string;
  /** wal-damaged: bytes dropped; lost-writes: the witness's and the store's sequence numbers */
  bytes?: number;
  witness?: number;
  seq?: number;
};

// ---------------------------------------------------------------------------------------------
// Checksums

type Crc32 = (data: string, value?: number) => number;

let table: Int32Array | undefined;
/** CRC-32 (the zlib polynomial) of a string's UTF-8 bytes, for Node.js before 20.15. */
function crc32js(data: string, value = 0): number {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let crc = ~value;
  for (const b of Buffer.from(data, "utf8")) crc = (table[(crc ^ b) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

const crc32: Crc32 = (zlib as { crc32?: Crc32 }).crc32 ?? crc32js;

const hex8 = (n: number) => n.toString(16).padStart(8, "0");

function sum(table: string, key: string, json: string): string {
  return hex8(crc32(json, crc32(`${table}\u0000${key}\u0000`)));
}

/** The stored form of a record: its checksum, then its JSON. */
export function seal(table: string, key: string, json: string): string {
  return sum(table, key, json) + json;
}

/** The JSON of a stored record, or undefined when it fails its checksum. */
export function unseal(table: string, key: string, stored: string): string | undefined {
  if (stored.length < 8) return undefined;
  const json = stored.slice(8);
  return stored.startsWith(sum(table, key, json)) ? json : undefined;
}

// ---------------------------------------------------------------------------------------------
// The witness: a fixed-size line, rewritten in place, with its own checksum.

export function witnessText(seq: number): string {
  const s = String(seq).padStart(16, "0");
  return `tether-witness 1 ${s} ${hex8(crc32(s))}\n`;
}

export type WitnessState = { state: "missing" } | { state: "unreadable" } | { state: "ok"; seq: number };

export function readWitness(dir: string): WitnessState {
  let text: string;
  try {
    text = readFileSync(join(dir, WITNESS_FILE), "latin1");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: "missing" };
    return { state: "unreadable" };
  }
  const m = /^tether-witness 1 (\d{16}) ([0-9a-f]{8})\n$/.exec(text);
  if (!m || hex8(crc32(m[1] as string)) !== m[2]) return { state: "unreadable" };
  return { state: "ok", seq: Number(m[1]) };
}

/** Create or replace the witness durably (a new store, a migration, a repair). */
export function resetWitness(dir: string, seq: number): void {
  writeFileAtomic(join(dir, WITNESS_FILE), witnessText(seq), 0o600);
}

// ---------------------------------------------------------------------------------------------
// LevelDB's info log

/**
 * What LevelDB says it dropped while recovering its write-ahead logs, from the `LOG` file it
 * writes afresh at every open ("(ignoring error) …/000003.log: dropping 1535 bytes; Corruption:
 * checksum mismatch"; "Ignoring error …" for a batch it could not apply). A log whose tail is
 * cut is not reported: LevelDB takes it for a crash in the middle of a write.
 */
export function walProblems(dir: string): StoreProblem[] {
  let text: string;
  try {
    text = readFileSync(join(dir, "LOG"), "utf8");
  } catch {
    return [];
  }
  const byLog = new Map<string, { bytes: number; reasons: Set<string> }>();
  const ignored: string[] = [];
  for (const line of text.split("\n")) {
    const drop = /(\S+\.log): dropping (\d+) bytes; (.*)$/.exec(line);
    if (drop) {
      const name = basename(drop[1] as string);
      const e = byLog.get(name) ?? { bytes: 0, reasons: new Set<string>() };
      e.bytes += Number(drop[2]);
      e.reasons.add((drop[3] as string).trim());
      byLog.set(name, e);
      continue;
    }
    const ign = /Ignoring error (.*)$/.exec(line);
    if (ign) ignored.push((ign[1] as string).trim());
  }
  const out: StoreProblem[] = [];
  for (const [name, e] of byLog) {
    out.push({
      kind: ProblemKind.WalDamaged,
      bytes: e.bytes,
      message: `the write-ahead log ${name} was damaged: LevelDB skipped ${e.bytes} bytes of it (${[...e.reasons].join("; ")}), and the writes in them are lost`,
    });
  }
  for (const reason of ignored) {
    out.push({ kind: ProblemKind.WalDamaged, message: `LevelDB could not apply a write from its write-ahead log and skipped it (${reason})` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The damage record

export function readDamage(dir: string): StoreProblem[] {
  const path = join(dir, DAMAGE_FILE);
  if (!existsSync(path)) return [];
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as { problems?: StoreProblem[] };
    if (Array.isArray(parsed.problems) && parsed.problems.length) return parsed.problems;
  } catch {
    // fall through: a damage record that cannot be read still says the store is damaged
  }
  return [{ kind: ProblemKind.Meta, message: `${DAMAGE_FILE} says the store was found damaged, but it cannot be read` }];
}

export function writeDamage(dir: string, problems: readonly StoreProblem[]): void {
  writeFileAtomic(join(dir, DAMAGE_FILE), `${JSON.stringify({ version: 1, problems }, null, 2)}\n`, 0o600);
}

export function clearDamage(dir: string): void {
  try {
    unlinkSync(join(dir, DAMAGE_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
