/**
 * The renewal hook of `tether node renew --exec CMD` and `tether node run --on-renew CMD`: a
 * shell command run after a renewal, once the new files are in place, so that another program
 * using the device's certificate reloads it (docs/clients.md). Its failure is reported; the
 * renewal stands.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { visible } from "@tether/base";

/** A hook still running after this long is killed (with its process group). */
export const HOOK_TIMEOUT_MS = 60_000;
const STDERR_TAIL = 2048;
const KILL_GRACE_MS = 2000;

/**
 * The variables a renewal hook gets on top of the inherited environment: the state
 * directory's paths, and facts read from the new certificate itself. Nothing in them comes
 * from the daemon as text, and none is put into the command line.
 */
export async function renewHookEnv(stateDir: string, deviceId: string, certPem: string): Promise<Record<string, string>> {
  const { STATE_FILES } = await import("@tether/node");
  const cert = new X509Certificate(certPem);
  const notAfter = Date.parse(cert.validTo);
  return {
    TETHER_STATE_DIR: stateDir,
    TETHER_DEVICE_ID: deviceId,
    TETHER_TLS_BUNDLE: join(stateDir, STATE_FILES.bundle),
    TETHER_TLS_CERT: join(stateDir, STATE_FILES.certificate),
    TETHER_TLS_KEY: join(stateDir, STATE_FILES.tlsKey),
    TETHER_TLS_CA: join(stateDir, STATE_FILES.ca),
    TETHER_CERT_FINGERPRINT: cert.fingerprint256.replace(/:/g, "").toLowerCase(),
    TETHER_CERT_NOT_AFTER: new Date(notAfter).toISOString(),
    TETHER_CERT_NOT_AFTER_MS: String(notAfter),
  };
}

/** SIGTERM a detached child's whole process group, then SIGKILL it KILL_GRACE_MS later. */
export function killGroup(child: ChildProcess): void {
  try {
    process.kill(-(child.pid as number), "SIGTERM");
    setTimeout(() => {
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {
        // already gone
      }
    }, KILL_GRACE_MS).unref();
  } catch {
    // already gone
  }
}

export type HookResult = { ok: true } | { ok: false; error: string };

/**
 * Run `command` with /bin/sh in its own process group, stdin empty, stdout discarded; resolves
 * (never rejects) with how it went: a non-zero exit carries the tail of its stderr.
 */
export function runHook(command: string, env: Record<string, string>, timeoutMs = HOOK_TIMEOUT_MS): Promise<HookResult> {
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", command], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env }, detached: true });
    let err = "";
    let timedOut = false;
    child.stderr.on("data", (d: Buffer) => {
      err = (err + d.toString("utf8")).slice(-STDERR_TAIL);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `cannot start the hook: ${e.message}` });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ ok: false, error: `the hook ran longer than ${timeoutMs / 1000} s and was killed` });
      if (code === 0) return resolve({ ok: true });
      resolve({ ok: false, error: `the hook exited with ${signal ?? code}${err.trim() ? `: ${visible(err.trim())}` : ""}` });
    });
  });
}
