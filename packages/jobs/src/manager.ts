/**
 * The job queue: dispatch, delivery, results, deadlines and cancellation, with every state
 * transition written durably before anyone is told. Unfinished jobs survive a restart and are
 * delivered again with the same id (at-least-once; nodes dedupe by job id). Storage, the node
 * directory, the clock and randomness are injected.
 */
import { EventEmitter } from "node:events";
import { AuditEvent, Mutex } from "@tether/base";
import type { JobConfig } from "./config.js";
import { DEADLINE_GRACE_MS, MAX_ERROR_BYTES, resolveJobConfig } from "./config.js";
import { JobError } from "./errors.js";
import type { JobOp, JobRecord, JobRepository, JobState, NodeDirectory } from "./records.js";
import { FINAL_STATES } from "./records.js";

export type Clock = { now(): number };
export type Timers = {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
};

export type DispatchInput = {
  deviceId: string;
  capability: string;
  input: Uint8Array;
  timeoutMs?: number;
  idempotencyKey?: string;
  dispatchedBy: string;
};

export type ResultInput = { jobId: string; ok: boolean; output?: Uint8Array; error?: string };

/** Why a node's report was not applied (it is logged by the caller, never fatal). */
export type Ignored = { ignored: true; reason: string };

const CAPABILITY_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const decoder = new TextDecoder("utf-8", { fatal: true });

function jsonText(b: Uint8Array, label: string, limit: number, code: "INPUT_TOO_LARGE" | "INVALID_ARGUMENT"): string {
  if (b.length > limit) throw new JobError(code, `${label} is ${b.length} bytes; the limit is ${limit}`);
  if (b.length === 0) return "null";
  let text: string;
  try {
    text = decoder.decode(b);
    JSON.parse(text);
  } catch {
    throw new JobError("INVALID_ARGUMENT", `${label} is not valid UTF-8 JSON`);
  }
  return text;
}

export function isFinal(state: string): boolean {
  return FINAL_STATES.has(state);
}

export class JobManager {
  readonly #repo: JobRepository;
  readonly #dir: NodeDirectory;
  readonly #clock: Clock;
  readonly #random: (n: number) => Uint8Array;
  readonly #timers: Timers;
  readonly #config: JobConfig;
  readonly #mutex = new Mutex();
  readonly #events = new EventEmitter();
  /** Unfinished jobs by id; finished ones live only in the store. */
  readonly #open = new Map<string, JobRecord>();
  readonly #deadlines = new Map<string, unknown>();
  #closed = false;

  constructor(o: {
    repo: JobRepository;
    directory: NodeDirectory;
    clock: Clock;
    randomBytes: (n: number) => Uint8Array;
    timers?: Timers;
    config?: Partial<JobConfig>;
  }) {
    this.#repo = o.repo;
    this.#dir = o.directory;
    this.#clock = o.clock;
    this.#random = o.randomBytes;
    this.#timers = o.timers ?? { setTimeout: (f, ms) => setTimeout(f, ms).unref(), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.#config = resolveJobConfig(o.config);
    this.#events.setMaxListeners(0);
  }

  get config(): JobConfig {
    return this.#config;
  }

  /**
   * Load unfinished jobs after a start: those past their deadline time out; those that were
   * delivered or running go back to the queue, to be delivered again with the same id.
   */
  async load(): Promise<{ requeued: number; timedOut: number }> {
    return this.#mutex.run(async () => {
      const now = this.#clock.now();
      const ops: JobOp[] = [];
      let requeued = 0;
      let timedOut = 0;
      for (const j of await this.#repo.list("jobs")) {
        if (isFinal(j.state)) continue;
        let next = j;
        if (j.deadline <= now) {
          next = { ...j, state: "timed_out", error: "deadline passed while the daemon was down", updatedAt: now };
          timedOut++;
        } else if (j.state !== "queued") {
          next = { ...j, state: "queued", updatedAt: now };
          requeued++;
        }
        if (next !== j) ops.push({ table: "jobs", type: "put", value: next });
        if (!isFinal(next.state)) {
          this.#open.set(next.id, next);
          this.#arm(next);
        }
      }
      if (ops.length) await this.#repo.batch(ops);
      return { requeued, timedOut };
    });
  }

  /** Subscribe to: "queued" (deviceId) when a device has new work, "cancel" ({deviceId, jobId, reason}). */
  on(event: "queued", fn: (deviceId: string) => void): void;
  on(event: "cancel", fn: (c: { deviceId: string; jobId: string; reason: string }) => void): void;
  on(event: string, fn: (...a: never[]) => void): void {
    this.#events.on(event, fn as (...a: unknown[]) => void);
  }

  /** Watch one job's changes. Returns the unsubscribe function. */
  watch(jobId: string, fn: (j: JobRecord) => void): () => void {
    const ev = `job:${jobId}`;
    this.#events.on(ev, fn);
    return () => this.#events.off(ev, fn);
  }

  #emit(j: JobRecord): void {
    this.#events.emit(`job:${j.id}`, j);
  }

  #arm(j: JobRecord): void {
    const h = this.#timers.setTimeout(() => {
      void this.#expire(j.id);
    }, Math.max(0, j.deadline - this.#clock.now()));
    this.#deadlines.set(j.id, h);
  }

  #disarm(id: string): void {
    const h = this.#deadlines.get(id);
    if (h !== undefined) this.#timers.clearTimeout(h);
    this.#deadlines.delete(id);
  }

  async #expire(id: string): Promise<void> {
    if (this.#closed) return;
    const j = await this.#mutex.run(async () => {
      const cur = this.#open.get(id);
      if (!cur) return undefined;
      return this.#finish(cur, { state: "timed_out", error: "deadline passed before a result arrived" });
    });
    if (j && (j.prev === "delivered" || j.prev === "running")) {
      this.#events.emit("cancel", { deviceId: j.job.deviceId, jobId: id, reason: "deadline passed" });
    }
  }

  /** Persist a final state (caller holds the mutex). */
  async #finish(cur: JobRecord, patch: Partial<JobRecord> & { state: JobState }): Promise<{ job: JobRecord; prev: JobState }> {
    const next: JobRecord = { ...cur, ...patch, updatedAt: this.#clock.now() };
    await this.#repo.batch([{ table: "jobs", type: "put", value: next }]);
    this.#open.delete(cur.id);
    this.#disarm(cur.id);
    this.#emit(next);
    // A finished in-flight job frees a slot on its device: more queued work may go out now.
    if (cur.state === "delivered" || cur.state === "running") queueMicrotask(() => this.#events.emit("queued", cur.deviceId));
    return { job: next, prev: cur.state };
  }

  /**
   * Accept a job for a device. With an idempotency key already used by the same dispatcher,
   * returns the job that key created instead.
   * @throws JobError DEVICE_NOT_FOUND, DEVICE_REVOKED, UNKNOWN_CAPABILITY, INPUT_TOO_LARGE,
   *   INVALID_ARGUMENT, QUEUE_FULL.
   */
  async dispatch(d: DispatchInput): Promise<JobRecord> {
    if (!CAPABILITY_RE.test(d.capability)) throw new JobError("INVALID_ARGUMENT", '"capability" must match [a-z0-9][a-z0-9._-]{0,63}');
    const input = jsonText(d.input, "input", this.#config.maxInputBytes, "INPUT_TOO_LARGE");
    const timeout = d.timeoutMs || this.#config.defaultTimeoutMs;
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > this.#config.maxTimeoutMs) {
      throw new JobError("INVALID_ARGUMENT", `timeout must be between 1 ms and ${this.#config.maxTimeoutMs} ms`);
    }
    if (d.idempotencyKey !== undefined && (d.idempotencyKey.length === 0 || d.idempotencyKey.length > 128)) {
      throw new JobError("INVALID_ARGUMENT", '"idempotencyKey" must be 1..128 characters');
    }
    const job = await this.#mutex.run(async () => {
      const idemId = d.idempotencyKey ? `${d.dispatchedBy}\u0000${d.idempotencyKey}` : undefined;
      if (idemId) {
        const seen = await this.#repo.get("idempotency", idemId);
        if (seen) {
          const j = this.#open.get(seen.jobId) ?? (await this.#repo.get("jobs", seen.jobId));
          if (j) return { job: j, fresh: false };
        }
      }
      const node = this.#dir.describe(d.deviceId);
      if (!node?.exists) throw new JobError("DEVICE_NOT_FOUND", `no device ${d.deviceId}`);
      if (node.revoked) throw new JobError("DEVICE_REVOKED", `device ${d.deviceId} is revoked`);
      if (!node.capabilities.includes(d.capability)) {
        throw new JobError("UNKNOWN_CAPABILITY", `device ${d.deviceId} has not announced capability "${d.capability}"`);
      }
      let queued = 0;
      for (const j of this.#open.values()) if (j.deviceId === d.deviceId && j.state === "queued") queued++;
      if (queued >= this.#config.maxQueuedPerDevice) {
        throw new JobError("QUEUE_FULL", `device ${d.deviceId} already has ${queued} queued jobs (limit ${this.#config.maxQueuedPerDevice})`);
      }
      const now = this.#clock.now();
      const j: JobRecord = {
        id: `job_${Buffer.from(this.#random(12)).toString("hex")}`,
        deviceId: d.deviceId,
        capability: d.capability,
        state: "queued",
        input,
        createdAt: now,
        deadline: now + timeout,
        updatedAt: now,
        attempts: 0,
        dispatchedBy: d.dispatchedBy,
        ...(d.idempotencyKey ? { idempotencyKey: d.idempotencyKey } : {}),
      };
      const ops: JobOp[] = [{ table: "jobs", type: "put", value: j }];
      if (idemId) ops.push({ table: "idempotency", type: "put", value: { id: idemId, jobId: j.id, createdAt: now } });
      await this.#repo.batch(ops, {
        audit: [{ type: AuditEvent.JobDispatched, actor: d.dispatchedBy, subject: j.id, details: { device: j.deviceId, capability: j.capability } }],
      });
      this.#open.set(j.id, j);
      this.#arm(j);
      return { job: j, fresh: true };
    });
    if (job.fresh) this.#events.emit("queued", job.job.deviceId);
    return job.job;
  }

  /** Number of this device's jobs delivered or running. */
  inFlight(deviceId: string): number {
    let n = 0;
    for (const j of this.#open.values()) if (j.deviceId === deviceId && (j.state === "delivered" || j.state === "running")) n++;
    return n;
  }

  /**
   * Mark up to `capacity` of the device's queued jobs delivered (oldest first) and return
   * them; the caller sends them on the node's stream.
   */
  async claim(deviceId: string, capacity: number): Promise<JobRecord[]> {
    return this.#mutex.run(async () => {
      const room = Math.min(capacity, this.#config.maxInFlightPerDevice) - this.inFlight(deviceId);
      if (room <= 0) return [];
      const now = this.#clock.now();
      const picked = [...this.#open.values()]
        .filter((j) => j.deviceId === deviceId && j.state === "queued")
        .sort((a, b) => a.createdAt - b.createdAt)
        .slice(0, room)
        .map((j): JobRecord => ({ ...j, state: "delivered", attempts: j.attempts + 1, updatedAt: now }));
      if (!picked.length) return [];
      // Not fsynced: losing "delivered" in an OS crash only means the job is delivered again,
      // which a restart does anyway (docs/fleet.md, delivery guarantee).
      await this.#repo.batch(
        picked.map((value) => ({ table: "jobs" as const, type: "put" as const, value })),
        { sync: false },
      );
      for (const j of picked) {
        this.#open.set(j.id, j);
        this.#emit(j);
      }
      return picked;
    });
  }

  #owned(deviceId: string, jobId: string): JobRecord | Ignored {
    const j = this.#open.get(jobId);
    if (!j) return { ignored: true, reason: `job ${jobId} is unknown or already finished` };
    if (j.deviceId !== deviceId) return { ignored: true, reason: `job ${jobId} is not assigned to ${deviceId}` };
    if (j.state === "queued") return { ignored: true, reason: `job ${jobId} has not been delivered` };
    return j;
  }

  /** The node started a job. */
  async markRunning(deviceId: string, jobId: string): Promise<JobRecord | Ignored> {
    return this.#mutex.run(async () => {
      const j = this.#owned(deviceId, jobId);
      if ("ignored" in j || j.state === "running") return j;
      const next: JobRecord = { ...j, state: "running", updatedAt: this.#clock.now() };
      await this.#repo.batch([{ table: "jobs", type: "put", value: next }], { sync: false }); // as in claim()
      this.#open.set(j.id, next);
      this.#emit(next);
      return next;
    });
  }

  /** The node reports a result. Results for other devices' or finished jobs are ignored. */
  async complete(deviceId: string, r: ResultInput): Promise<JobRecord | Ignored> {
    return this.#mutex.run(async () => {
      const j = this.#owned(deviceId, r.jobId);
      if ("ignored" in j) return j;
      if (!r.ok) {
        // A node stops a job at the deadline by its own clock and reports the failure; that
        // is a timeout, even if it lands a moment before the daemon's own timer fires.
        const late = this.#clock.now() >= j.deadline - DEADLINE_GRACE_MS;
        return (await this.#finish(j, { state: late ? "timed_out" : "failed", error: (r.error || "job failed").slice(0, MAX_ERROR_BYTES) })).job;
      }
      let output: string;
      try {
        output = jsonText(r.output ?? new Uint8Array(), "output", this.#config.maxOutputBytes, "INVALID_ARGUMENT");
      } catch (e) {
        return (await this.#finish(j, { state: "failed", error: `node sent a bad result: ${(e as Error).message}` })).job;
      }
      return (await this.#finish(j, { state: "succeeded", output })).job;
    });
  }

  /**
   * Cancel a job that has not finished. A delivered or running job is also cancelled on its node.
   * @throws JobError JOB_NOT_FOUND, JOB_FINISHED.
   */
  async cancel(jobId: string, reason = "cancelled"): Promise<JobRecord> {
    const r = await this.#mutex.run(async () => {
      const cur = this.#open.get(jobId);
      if (!cur) {
        const done = await this.#repo.get("jobs", jobId);
        if (!done) throw new JobError("JOB_NOT_FOUND", `no job ${jobId}`);
        throw new JobError("JOB_FINISHED", `job ${jobId} already ${done.state}`);
      }
      return this.#finish(cur, { state: "cancelled", error: reason.slice(0, 256) });
    });
    if (r.prev === "delivered" || r.prev === "running") {
      this.#events.emit("cancel", { deviceId: r.job.deviceId, jobId, reason });
    }
    return r.job;
  }

  /** The device's stream ended: its delivered and running jobs go back to the queue. */
  async requeueDevice(deviceId: string): Promise<number> {
    return this.#mutex.run(async () => {
      const now = this.#clock.now();
      const back = [...this.#open.values()]
        .filter((j) => j.deviceId === deviceId && (j.state === "delivered" || j.state === "running"))
        .map((j): JobRecord => ({ ...j, state: "queued", updatedAt: now }));
      if (!back.length) return 0;
      await this.#repo.batch(back.map((value) => ({ table: "jobs" as const, type: "put" as const, value })));
      for (const j of back) {
        this.#open.set(j.id, j);
        this.#emit(j);
      }
      return back.length;
    });
  }

  /** Fail every unfinished job of a device (used on revocation). */
  async failDevice(deviceId: string, reason: string): Promise<number> {
    const done = await this.#mutex.run(async () => {
      const out: JobRecord[] = [];
      for (const j of [...this.#open.values()]) {
        if (j.deviceId === deviceId) out.push((await this.#finish(j, { state: "failed", error: reason })).job);
      }
      return out;
    });
    return done.length;
  }

  /** @throws JobError JOB_NOT_FOUND */
  async get(jobId: string): Promise<JobRecord> {
    const j = this.#open.get(jobId) ?? (await this.#repo.get("jobs", jobId));
    if (!j) throw new JobError("JOB_NOT_FOUND", `no job ${jobId}`);
    return j;
  }

  async list(f: { deviceId?: string; state?: string; limit?: number } = {}): Promise<JobRecord[]> {
    const limit = Math.min(Math.max(f.limit || 100, 1), 1000);
    const all = await this.#repo.list("jobs");
    return all
      .map((j) => this.#open.get(j.id) ?? j)
      .filter((j) => (!f.deviceId || j.deviceId === f.deviceId) && (!f.state || j.state === f.state))
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, limit);
  }

  close(): void {
    this.#closed = true;
    for (const id of [...this.#deadlines.keys()]) this.#disarm(id);
  }
}
