/**
 * A throw-away PostgreSQL server for tests: `initdb` in a fresh temp directory owned by the
 * `postgres` user (PostgreSQL refuses to run as root), trust authentication, no TCP at all,
 * only a Unix socket in that directory. The binaries come from /usr/lib/postgresql/<major>/bin
 * (test/ensure-tools.sh installs Debian's `postgresql` where it is missing). The caller stops
 * it, which also removes the directory.
 */
import { execFile } from "node:child_process";
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type TestPostgres = {
  /** a libpq URL for the Unix socket: postgresql://postgres@/postgres?host=DIR */
  url: string;
  socketDir: string;
  /** `pg_ctl stop -m immediate` (may be called again; safe when already stopped) */
  halt(): Promise<void>;
  /** start again after halt() on the same data */
  start(): Promise<void>;
  /** halt and remove the directory */
  stop(): Promise<void>;
};

/** The newest PostgreSQL's bin directory under /usr/lib/postgresql, or an error naming the fix. */
export function postgresBin(): string {
  const base = "/usr/lib/postgresql";
  const majors = existsSync(base)
    ? readdirSync(base)
        .filter((d) => existsSync(join(base, d, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!majors[0]) throw new Error("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `sh test/ensure-tools.sh` as root, or `apt-get install postgresql`");
  return join(base, majors[0], "bin");
}

/** Run a PostgreSQL binary as the postgres user, from a directory that user can enter. */
async function asPostgres(cwd: string, bin: string, args: string[]): Promise<void> {
  try {
    await run("runuser", ["-u", "postgres", "--", bin, ...args], { cwd, timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${bin} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

/** The file in a server's directory naming the test process that started it. */
const OWNER_FILE = "owner.pid";

/**
 * Servers whose test process is gone (killed with SIGKILL, so its stop() never ran) are
 * stopped and removed, so that they do not pile up on a machine that runs the tests often.
 */
async function reapOrphans(bin: string): Promise<void> {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith("tether-pg-")) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), "utf8"));
    } catch {
      continue; // being set up, or not ours
    }
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    await asPostgres(dir, join(bin, "pg_ctl"), ["stop", "-D", join(dir, "data"), "-m", "immediate", "-w"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** `fsync: true` (benchmarks that compare durable commits with LevelDB's): the server syncs as a real one does. */
export async function startPostgres(o: { fsync?: boolean } = {}): Promise<TestPostgres> {
  const bin = postgresBin();
  await reapOrphans(bin);
  const dir = mkdtempSync(join(tmpdir(), "tether-pg-"));
  const data = join(dir, "data");
  const ctl = join(bin, "pg_ctl");
  let running = false;
  const halt = async () => {
    if (!running) return;
    running = false;
    await asPostgres(dir, ctl, ["stop", "-D", data, "-m", "immediate", "-w"]);
  };
  const start = async () => {
    await asPostgres(dir, ctl, ["start", "-D", data, "-w", "-l", join(dir, "server.log")]);
    running = true;
  };
  try {
    chownSync(dir, (await uid("postgres")).uid, (await uid("postgres")).gid);
    // A linguistic default collation (ICU en-US, where "B" sorts after "b" and U+1F600 first),
    // so that a store which forgets COLLATE "C" sorts ids wrongly here instead of by luck.
    await asPostgres(dir, join(bin, "initdb"), [
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--locale-provider=icu",
      "--icu-locale=en-US",
      "--no-sync",
      "--no-instructions",
    ]);
    // No TCP listener; the socket in `dir`. fsync off unless asked: a throw-away server, speed over durability.
    appendFileSync(data + "/postgresql.conf", `\nlisten_addresses = ''\nunix_socket_directories = '${dir}'\nfsync = ${o.fsync ? "on" : "off"}\n`);
    await start();
    writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgresql://postgres@/postgres?host=${encodeURIComponent(dir)}`,
    socketDir: dir,
    halt,
    start,
    stop: async () => {
      try {
        await halt();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

async function uid(user: string): Promise<{ uid: number; gid: number }> {
  const [u, g] = await Promise.all([run("id", ["-u", user]), run("id", ["-g", user])]);
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}
