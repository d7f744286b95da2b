/**
 * Crash-safe file writes: write a temporary file (random name, created exclusively with the
 * final mode), fsync it, then rename it over the target (or link it, to create without
 * replacing), and fsync the folder. A crash leaves the old file or the new one, never half.
 */
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

function writeTemp(path: string, data: string | Uint8Array, mode: number): string {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  return tmp;
}

function syncDir(path: string): void {
  const dfd = openSync(dirname(path), "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** Replace `path` atomically with `data`, the file having exactly `mode`. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): void {
  const tmp = writeTemp(path, data, mode);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
  syncDir(path);
}

/**
 * Create `path` with `data` only if it does not exist yet, atomically. Returns false (and
 * writes nothing) when another writer got there first.
 */
export function createFileExclusive(path: string, data: string | Uint8Array, mode: number): boolean {
  const tmp = writeTemp(path, data, mode);
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    unlinkSync(tmp);
    syncDir(path);
  }
}
