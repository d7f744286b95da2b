/**
 * Crash-safe file writes: write a temporary file (random name, created exclusively with the
 * final mode), fsync it, then rename it over the target (or link it, to create without
 * replacing), and fsync the folder. A crash leaves the old file or the new one, never half.
 * A folder that must appear whole is filled beside its place and renamed into it.
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
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

/**
 * Create the folder `path` (with `mode`) holding what `fill` writes into it, all at once: `fill`
 * fills a hidden, randomly named folder beside it (`.NAME.<random>.tmp`), which is then renamed
 * to `path`. Returns false, and leaves nothing behind, when `path` already exists with anything
 * in it (an empty folder is replaced). A crash leaves no `path` or all of it, and perhaps the
 * hidden folder, which is safe to delete.
 */
export async function createDirExclusive(path: string, mode: number, fill: (dir: string) => void | Promise<void>): Promise<boolean> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  mkdirSync(tmp, { mode });
  try {
    await fill(tmp); // writes with writeFileAtomic / createFileExclusive, which fsync the folder
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST") return false;
    throw err;
  }
  syncDir(path);
  return true;
}
