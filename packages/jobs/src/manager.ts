/**
 * The job queue: dispatch, delivery, results, deadlines and cancellation, with every state
 * transition written durably before anyone is told. Unfinished jobs survive a restart and are
 * delivered again with the same id (at-least-once; nodes dedupe by job id). Storage, the node
 * directory, the clock and randomness are injected.
 *
 * Writes are pipelined: a change is decided and applied to the in-memory state under the
 * mutex and handed to the repository there (which applies batches in call order and commits
 * concurrent ones together), but awaited outside it, so one job's fsync does not hold up the
 * next job. Nobody is told of a change (results, events, reads of that job) before its write
 * is durable. A failed write means memory and disk disagree: the manager stops accepting
 * work and reports "fatal"; the daemon refuses every call until a restart reloads the truth.
 *
 * Only unfinished jobs are loaded at start (an index of their ids); finished jobs stay on disk
 * for `finishedRetentionMs` and are read when asked for.
 */
import { EventEmitter } from "node:events";
import { AuditEvent, Mutex, clip } from "@tether/base";
import type { JobConfig } from "./config.js";
import { DEADLINE_GRACE_MS, MAX_ERROR_BYTES, RETENTION_BATCH, resolveJobConfig } from "./config.js";
import { JobError } from "./errors.js";
import type { FanoutRecord, JobOp, JobRecord, JobRepository, JobState, NodeDirectory } from "./records.js";
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

/**
 * Why a node's report was not applied (it is logged by the caller, never fatal). `code`:
 * FINISHED, the job is unknown or already final (a node resending its results after a
 * reconnect, docs/fleet.md 4.2); NOT_DELIVERED, it is queued again (a result computed while
 * disconnected, 4.3); OTHER_DEVICE, it is another device's job, which no correct node sends.
 */
export type Ignored = { ignored: true; code: "FINISHED" | "NOT_DELIVERED" | "OTHER_DEVICE"; reason: string };

/**
 * Which jobs a caller may see and act on; any other job is, to it, a job that does not exist.
 * The daemon decides it (docs/fleet.md 6.1); every job when not given.
 */
export type CanSee = (j: JobRecord) => boolean;
const everyJob: CanSee = () => true;

/** A fan-out record names at most this many of the devices it skipped (and counts the rest). */
const MAX_SKIPPED_KEPT = 100;

/** Jobs read from the store per page when the owner index is built. */
const INDEX_PAGE = 10_000;
/** Job ids whose random digits are drawn from the CSPRNG in one call (#newId). */
const ID_POOL = 256;

/** The owner-index key of a job: its dispatcher, then its id (ids sort by creation). */
function ownerKey(j: Pick<JobRecord, "dispatchedBy" | "id">): string {
  return `${j.dispatchedBy}/${j.id}`;
}

const CAPABILITY_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** What #newId makes: `job_` and 24 lowercase hex digits. */
const JOB_ID_RE = /^job_[0-9a-f]{24}$/;

/**
 * A job id named by a caller, checked before any lookup (a malformed one is never echoed whole).
 * @throws JobError INVALID_ARGUMENT
 */
function jobIdArg(id: string, label = "id"): string {
  if (!JOB_ID_RE.test(id)) throw new JobError("INVALID_ARGUMENT", `"${label}" must be a job id (job_ and 24 hex digits), got ${JSON.stringify(clip(id))}`);
  return id;
}
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
  #idPool = "";
  #idPoolAt = 0;
  readonly #timers: Timers;
  readonly #config: JobConfig;
  readonly #mutex = new Mutex();
  readonly #events = new EventEmitter();
  /** Unfinished jobs by id; finished ones live only in the store. */
  readonly #open = new Map<string, JobRecord>();
  /** Unfinished job ids by device. */
  readonly #byDevice = new Map<string, Set<string>>();
  /** The last write of each job that is not yet durable: readers of that job wait for it. */
  readonly #pending = new Map<string, Promise<void>>();
  /** Idempotency keys whose job is written but not yet durable: key id -> job id. */
  readonly #pendingKeys = new Map<string, string>();
  readonly #deadlines = new Map<string, unknown>();
  /** Where the retention sweep goes on from (job ids sort by creation time). */
  #sweepCursor = "";
  #closed = false;
  #failed: Error | undefined;

  constructor(o: { repo: JobRepository; directory: NodeDirectory; clock: Clock; randomBytes: (n: number) => Uint8Array; timers?: Timers; config?: Partial<JobConfig> }) {
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
   * A new job id: `job_`, 12 hex digits of the creation time (ms), 12 random: ids sort by
   * creation. The random digits come from a pool drawn ID_POOL ids at a time: one call to the
   * CSPRNG costs more than the hex of its bytes, and a fan-out makes thousands of ids at once.
   * (Job ids are names, not secrets: who may act on a job is checked by the caller's scope.)
   */
  #newId(now: number): string {
    if (this.#idPoolAt >= this.#idPool.length) {
      this.#idPool = Buffer.from(this.#random(6 * ID_POOL)).toString("hex");
      this.#idPoolAt = 0;
    }
    const r = this.#idPool.slice(this.#idPoolAt, this.#idPoolAt + 12);
    this.#idPoolAt += 12;
    return `job_${Math.floor(now).toString(16).padStart(12, "0").slice(-12)}${r}`;
  }

  #track(j: JobRecord): void {
    if (isFinal(j.state)) {
      this.#open.delete(j.id);
      const set = this.#byDevice.get(j.deviceId);
      set?.delete(j.id);
      if (set?.size === 0) this.#byDevice.delete(j.deviceId);
      return;
    }
    this.#open.set(j.id, j);
    let set = this.#byDevice.get(j.deviceId);
    if (!set) this.#byDevice.set(j.deviceId, (set = new Set()));
    set.add(j.id);
  }

  #deviceJobs(deviceId: string): JobRecord[] {
    const out: JobRecord[] = [];
    for (const id of this.#byDevice.get(deviceId) ?? []) {
      const j = this.#open.get(id);
      if (j) out.push(j);
    }
    return out;
  }

  /**
   * Hand a batch to the repository (caller holds the mutex) and remember it as the pending
   * write of `jobIds`. Returns the write, to be awaited after the mutex is released.
   */
  #commit(ops: JobOp[], jobIds: readonly string[], options: Parameters<JobRepository["batch"]>[1] = {}): Promise<void> {
    if (this.#failed) throw new JobError("INVALID_ARGUMENT", "the job store failed; restart the daemon", { cause: this.#failed });
    const w = this.#repo.batch(ops, options).catch((err: unknown) => {
      if (!this.#failed) {
        this.#failed = err as Error;
        this.#events.emit("fatal", err);
      }
      throw err;
    });
    for (const id of jobIds) this.#pending.set(id, w);
    void w.then(
      () => {
        for (const id of jobIds) if (this.#pending.get(id) === w) this.#pending.delete(id);
      },
      () => undefined,
    );
    return w;
  }

  /**
   * Load unfinished jobs after a start: those past their deadline time out; those that were
   * delivered or running go back to the queue, to be delivered again with the same id; those of
   * a revoked device fail. Reads the open-job index (built once from every job when a store
   * predates it), not the finished jobs. `timedOut` counts every job that ended here.
   */
  async load(): Promise<{ requeued: number; timedOut: number }> {
    return this.#mutex.run(async () => {
      const now = this.#clock.now();
      if (!(await this.#repo.get("jobsMeta", "ownerIndex"))) await this.#indexOwners(now);
      const ops: JobOp[] = [];
      let unfinished: JobRecord[];
      if (!(await this.#repo.get("jobsMeta", "openIndex"))) {
        // A store from before the index: one full pass, then never again.
        const all = await this.#repo.list("jobs");
        unfinished = all.filter((j) => !isFinal(j.state));
        for (const j of unfinished) ops.push({ table: "openJobs", type: "put", value: { id: j.id } });
        for (const j of all) ops.push({ table: "deviceJobs", type: "put", value: { id: `${j.deviceId}/${j.id}`, jobId: j.id } });
        ops.push({ table: "jobsMeta", type: "put", value: { id: "openIndex", at: now } });
      } else {
        unfinished = [];
        for (const { id } of await this.#repo.list("openJobs")) {
          const j = await this.#repo.get("jobs", id);
          if (j && !isFinal(j.state)) unfinished.push(j);
          else ops.push({ table: "openJobs", type: "del", key: id }); // a stale index entry
        }
      }
      let requeued = 0;
      let timedOut = 0;
      for (const j of unfinished) {
        let next = j;
        if (this.#dir.describe(j.deviceId)?.revoked) {
          // revoked while the job was open, and the daemon stopped before failing it
          next = { ...j, state: "failed", error: "device revoked", updatedAt: now };
          timedOut++;
        } else if (j.deadline <= now) {
          next = { ...j, state: "timed_out", error: "deadline passed while the daemon was down", updatedAt: now };
          timedOut++;
        } else if (j.state !== "queued") {
          next = { ...j, state: "queued", updatedAt: now };
          requeued++;
        }
        if (next !== j) ops.push({ table: "jobs", type: "put", value: next });
        if (isFinal(next.state)) ops.push({ table: "openJobs", type: "del", key: next.id });
        else {
          this.#track(next);
          this.#arm(next);
        }
      }
      if (ops.length) await this.#repo.batch(ops);
      return { requeued, timedOut };
    });
  }

  /**
   * Build the owner index of a store from before it, once: page through every job (oldest
   * first), then mark the index complete. A crash midway only means it is built again.
   * Jobs without a dispatcher (none written by this daemon) get no entry: nobody owns them.
   */
  async #indexOwners(now: number): Promise<void> {
    let gt: string | undefined;
    for (;;) {
      const page = await this.#repo.scan("jobs", { limit: INDEX_PAGE, ...(gt ? { gt } : {}) });
      const ops: JobOp[] = page.filter((j) => j.dispatchedBy).map((j) => ({ table: "ownerJobs", type: "put", value: { id: ownerKey(j), jobId: j.id } }));
      if (ops.length) await this.#repo.batch(ops, { sync: false });
      if (page.length < INDEX_PAGE) break;
      gt = (page[page.length - 1] as JobRecord).id;
    }
    await this.#repo.batch([{ table: "jobsMeta", type: "put", value: { id: "ownerIndex", at: now } }]);
  }

  /**
   * Subscribe to: "queued" (deviceId) when a device has new work, "deliver" (job) when a job
   * was dispatched straight to its device's stream (send it now), "cancel" ({deviceId, jobId,
   * reason}), "finished" (job) once a job's final state is durable (each job once: for
   * counting, e.g. the daemon's metrics), "fatal" (the store failed a write; stop the daemon).
   */
  on(event: "queued", fn: (deviceId: string) => void): void;
  on(event: "deliver", fn: (job: JobRecord) => void): void;
  on(event: "cancel", fn: (c: { deviceId: string; jobId: string; reason: string }) => void): void;
  on(event: "finished", fn: (job: JobRecord) => void): void;
  on(event: "fatal", fn: (err: Error) => void): void;
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
    const h = this.#timers.setTimeout(
      () => {
        void this.#expire(j.id);
      },
      Math.max(0, j.deadline - this.#clock.now()),
    );
    this.#deadlines.set(j.id, h);
  }

  #disarm(id: string): void {
    const h = this.#deadlines.get(id);
    if (h !== undefined) this.#timers.clearTimeout(h);
    this.#deadlines.delete(id);
  }

  async #expire(id: string): Promise<void> {
    if (this.#closed) return;
    const f = await this.#mutex.run(async () => {
      const cur = this.#open.get(id);
      if (!cur) return undefined;
      // A timer may fire a millisecond or so early (Node rounds): never time a job out before its deadline.
      if (this.#clock.now() < cur.deadline) {
        this.#arm(cur);
        return undefined;
      }
      return this.#finish(cur, { state: "timed_out", error: "deadline passed before a result arrived" });
    });
    if (!f) return;
    const j = await f.done.catch(() => undefined);
    if (j && (f.prev === "delivered" || f.prev === "running")) {
      this.#events.emit("cancel", { deviceId: j.deviceId, jobId: id, reason: "deadline passed" });
    }
  }

  /**
   * Decide a final state (caller holds the mutex): applied in memory and handed to the store
   * now; `done` resolves, once it is durable, with the record, after telling the watchers.
   */
  #finish(cur: JobRecord, patch: Partial<JobRecord> & { state: JobState }): { prev: JobState; done: Promise<JobRecord> } {
    const next: JobRecord = { ...cur, ...patch, updatedAt: this.#clock.now() };
    const w = this.#commit(
      [
        { table: "jobs", type: "put", value: next },
        { table: "openJobs", type: "del", key: next.id },
      ],
      [next.id],
    );
    this.#track(next);
    this.#disarm(cur.id);
    const done = w.then(() => {
      this.#emit(next);
      try {
        this.#events.emit("finished", next);
      } catch {
        // a counting listener's mistake: the job is final all the same
      }
      // A finished in-flight job frees a slot on its device: more queued work may go out now.
      if (cur.state === "delivered" || cur.state === "running") this.#events.emit("queued", cur.deviceId);
      return next;
    });
    return { prev: cur.state, done };
  }

  /**
   * Accept a job for a device. With an idempotency key already used by the same dispatcher,
   * returns the job that key created instead.
   * @throws JobError DEVICE_NOT_FOUND, DEVICE_REVOKED, UNKNOWN_CAPABILITY, INPUT_TOO_LARGE,
   *   INVALID_ARGUMENT, QUEUE_FULL.
   */
  async dispatch(d: DispatchInput): Promise<JobRecord> {
    const { input, timeout } = this.#checkedRequest(d);
    const r = await this.#mutex.run(async () => {
      const idemId = d.idempotencyKey ? `${d.dispatchedBy}\u0000${d.idempotencyKey}` : undefined;
      if (idemId) {
        const seenId = this.#pendingKeys.get(idemId) ?? (await this.#repo.get("idempotency", idemId))?.jobId;
        if (seenId) {
          const j = this.#open.get(seenId) ?? (await this.#repo.get("jobs", seenId));
          if (j) return { job: j, fresh: false, written: this.#pending.get(j.id) };
        }
      }
      const now = this.#clock.now();
      const { job: j, ops } = this.#plan(d.deviceId, { ...d, input, timeout }, now);
      if (idemId) ops.push({ table: "idempotency", type: "put", value: { id: idemId, jobId: j.id, createdAt: now } });
      // The idempotency record is written with the job, and the key is checked under this
      // mutex, so a second dispatch with the same key finds it (in the store's queue order).
      const written = this.#commit(ops, [j.id], {
        audit: [{ type: AuditEvent.JobDispatched, actor: d.dispatchedBy, subject: j.id, details: { device: j.deviceId, capability: j.capability } }],
      });
      this.#track(j);
      this.#arm(j);
      if (idemId) {
        this.#pendingKeys.set(idemId, j.id);
        void written.then(
          () => this.#pendingKeys.delete(idemId),
          () => undefined,
        );
      }
      return { job: j, fresh: true, written };
    });
    await r.written;
    if (r.fresh && r.job.state === "delivered") {
      this.#emit(r.job);
      // Only if it was not requeued (its stream ended) while the write was in flight.
      if (this.#open.get(r.job.id)?.state === "delivered") this.#events.emit("deliver", r.job);
    } else if (r.fresh) this.#events.emit("queued", r.job.deviceId);
    return r.job;
  }

  /** The input checks shared by dispatch and dispatchMany. */
  #checkedRequest(d: { capability: string; input: Uint8Array; timeoutMs?: number; idempotencyKey?: string }): { input: string; timeout: number } {
    if (!CAPABILITY_RE.test(d.capability)) throw new JobError("INVALID_ARGUMENT", '"capability" must match [a-z0-9][a-z0-9._-]{0,63}');
    const input = jsonText(d.input, "input", this.#config.maxInputBytes, "INPUT_TOO_LARGE");
    const timeout = d.timeoutMs || this.#config.defaultTimeoutMs;
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > this.#config.maxTimeoutMs) {
      throw new JobError("INVALID_ARGUMENT", `timeout must be between 1 ms and ${this.#config.maxTimeoutMs} ms`);
    }
    if (d.idempotencyKey !== undefined && (d.idempotencyKey.length === 0 || d.idempotencyKey.length > 128)) {
      throw new JobError("INVALID_ARGUMENT", '"idempotencyKey" must be 1..128 characters');
    }
    return { input, timeout };
  }

  /**
   * The job one device gets and the writes that create it (caller holds the mutex): delivered
   * at once when its stream has room and nothing is queued ahead, else queued.
   * @throws JobError DEVICE_NOT_FOUND, DEVICE_REVOKED, UNKNOWN_CAPABILITY, QUEUE_FULL
   */
  #plan(
    deviceId: string,
    d: { capability: string; input: string; timeout: number; dispatchedBy: string; idempotencyKey?: string; fanoutId?: string },
    now: number,
  ): { job: JobRecord; ops: JobOp[] } {
    const node = this.#dir.describe(deviceId);
    if (!node?.exists) throw new JobError("DEVICE_NOT_FOUND", `no device ${clip(deviceId)}`);
    if (node.revoked) throw new JobError("DEVICE_REVOKED", `device ${deviceId} is revoked`);
    if (!node.capabilities.includes(d.capability)) {
      throw new JobError("UNKNOWN_CAPABILITY", `device ${deviceId} has not announced capability "${d.capability}"`);
    }
    let queued = 0;
    for (const j of this.#deviceJobs(deviceId)) if (j.state === "queued") queued++;
    if (queued >= this.#config.maxQueuedPerDevice) {
      throw new JobError("QUEUE_FULL", `device ${deviceId} already has ${queued} queued jobs (limit ${this.#config.maxQueuedPerDevice})`);
    }
    const room = Math.min(this.#dir.concurrency?.(deviceId) ?? 0, this.#config.maxInFlightPerDevice) - this.inFlight(deviceId);
    const direct = room > 0 && queued === 0;
    const job: JobRecord = {
      id: this.#newId(now),
      deviceId,
      capability: d.capability,
      state: direct ? "delivered" : "queued",
      input: d.input,
      createdAt: now,
      deadline: now + d.timeout,
      updatedAt: now,
      attempts: direct ? 1 : 0,
      dispatchedBy: d.dispatchedBy,
      ...(d.idempotencyKey ? { idempotencyKey: d.idempotencyKey } : {}),
      ...(d.fanoutId ? { fanoutId: d.fanoutId } : {}),
    };
    const ops: JobOp[] = [
      { table: "jobs", type: "put", value: job },
      { table: "openJobs", type: "put", value: { id: job.id } },
      { table: "deviceJobs", type: "put", value: { id: `${deviceId}/${job.id}`, jobId: job.id } },
      { table: "ownerJobs", type: "put", value: { id: ownerKey(job), jobId: job.id } },
    ];
    return { job, ops };
  }

  /**
   * One job for each of `deviceIds` (a fan-out, docs/fleet.md §3.9), all written in one atomic
   * batch with the fan-out's record: after a crash there is all of it or none. A device that
   * cannot take the job (a full queue, a capability it no longer announces, revoked since it
   * was selected) is skipped and named in the record; the others are unaffected. With an
   * idempotency key, a second call by the same dispatcher returns the first fan-out.
   * @throws JobError INVALID_ARGUMENT, INPUT_TOO_LARGE, FANOUT_TOO_LARGE (more than
   *   MAX_FANOUT_DEVICES), NO_DEVICES (none selected, or none could take it). Nothing is written then.
   */
  async dispatchMany(d: {
    deviceIds: readonly string[];
    capability: string;
    input: Uint8Array;
    timeoutMs?: number;
    idempotencyKey?: string;
    dispatchedBy: string;
    selector: string;
  }): Promise<{ fanout: FanoutRecord; jobs: JobRecord[]; existed: boolean }> {
    const { input, timeout } = this.#checkedRequest(d);
    const ids = [...new Set(d.deviceIds)];
    if (ids.length > this.#config.maxFanoutDevices) {
      throw new JobError("FANOUT_TOO_LARGE", `the selector matches ${ids.length} devices; one fan-out addresses at most ${this.#config.maxFanoutDevices}: narrow it (a label)`);
    }
    const r = await this.#mutex.run(async () => {
      const idemId = d.idempotencyKey ? `fanout\u0000${d.dispatchedBy}\u0000${d.idempotencyKey}` : undefined;
      if (idemId) {
        const seen = this.#pendingKeys.get(idemId) ?? (await this.#repo.get("idempotency", idemId))?.jobId;
        if (seen) return { existing: seen };
      }
      if (ids.length === 0) throw new JobError("NO_DEVICES", `no device matches ${d.selector || "the selector"}`);
      const now = this.#clock.now();
      const fanoutId = `fan_${this.#newId(now).slice(4)}`;
      const jobs: JobRecord[] = [];
      const ops: JobOp[] = [];
      const skipped: FanoutRecord["skipped"] = [];
      for (const deviceId of ids) {
        try {
          const p = this.#plan(deviceId, { capability: d.capability, input, timeout, dispatchedBy: d.dispatchedBy, fanoutId }, now);
          jobs.push(p.job);
          ops.push(...p.ops);
          this.#track(p.job); // counted at once: a device named twice, or the next plan, sees it
        } catch (err) {
          if (!(err instanceof JobError)) throw err;
          skipped.push({ deviceId, code: err.code, reason: err.message });
        }
      }
      if (jobs.length === 0) {
        throw new JobError("NO_DEVICES", `none of the ${ids.length} devices matching ${d.selector || "the selector"} can take it: ${skipped[0]?.reason ?? ""}`);
      }
      const fanout: FanoutRecord = {
        id: fanoutId,
        capability: d.capability,
        selector: d.selector,
        dispatchedBy: d.dispatchedBy,
        createdAt: now,
        jobs: jobs.length,
        jobIds: jobs.map((j) => j.id),
        skipped: skipped.slice(0, MAX_SKIPPED_KEPT),
        ...(skipped.length > MAX_SKIPPED_KEPT ? { skippedCount: skipped.length } : {}),
        ...(d.idempotencyKey ? { idempotencyKey: d.idempotencyKey } : {}),
      };
      ops.push({ table: "fanouts", type: "put", value: fanout });
      if (idemId) ops.push({ table: "idempotency", type: "put", value: { id: idemId, jobId: fanoutId, createdAt: now } });
      let written: Promise<void>;
      try {
        written = this.#commit(
          ops,
          jobs.map((j) => j.id),
          {
            audit: [
              {
                type: AuditEvent.JobsFannedOut,
                actor: d.dispatchedBy,
                subject: fanoutId,
                details: { capability: d.capability, selector: clip(d.selector, 256), jobs: jobs.length, skipped: skipped.length },
              },
            ],
          },
        );
      } catch (err) {
        for (const j of jobs) this.#track({ ...j, state: "cancelled" }); // forget them: nothing was handed to the store
        throw err;
      }
      for (const j of jobs) this.#arm(j);
      if (idemId) {
        this.#pendingKeys.set(idemId, fanoutId);
        void written.then(
          () => this.#pendingKeys.delete(idemId),
          () => undefined,
        );
      }
      return { fanout, jobs, written };
    });
    if ("existing" in r) {
      const fanout = await this.fanout(r.existing as string);
      return { ...fanout, existed: true };
    }
    await r.written;
    for (const j of r.jobs) {
      if (j.state === "delivered") {
        this.#emit(j);
        if (this.#open.get(j.id)?.state === "delivered") this.#events.emit("deliver", j);
      } else this.#events.emit("queued", j.deviceId);
    }
    return { fanout: r.fanout, jobs: r.jobs, existed: false };
  }

  /**
   * A fan-out and its jobs as they are now (those `canSee` admits).
   * @throws JobError INVALID_ARGUMENT (not a fan-out id), FANOUT_NOT_FOUND
   */
  async fanout(id: string, canSee: CanSee = everyJob): Promise<{ fanout: FanoutRecord; jobs: JobRecord[] }> {
    if (!/^fan_[0-9a-f]{24}$/.test(id)) throw new JobError("INVALID_ARGUMENT", `"${clip(id)}" is not a fan-out id (fan_ and 24 hex digits)`);
    await Promise.all([...this.#pending.values()].map((p) => p.catch(() => undefined)));
    const fanout = await this.#repo.get("fanouts", id);
    if (!fanout) throw new JobError("FANOUT_NOT_FOUND", `no fan-out ${id} (its jobs may have passed their retention)`);
    const jobs: JobRecord[] = [];
    for (const jobId of fanout.jobIds) {
      const j = this.#open.get(jobId) ?? (await this.#repo.get("jobs", jobId));
      if (j && canSee(j)) jobs.push(j); // (one past its retention is gone)
    }
    if (jobs.length === 0 && !canSee({ dispatchedBy: fanout.dispatchedBy } as JobRecord)) throw new JobError("FANOUT_NOT_FOUND", `no fan-out ${id}`);
    return { fanout, jobs };
  }

  /**
   * The unfinished jobs now, by state, and the queued ones by capability: one pass over the
   * open jobs (for a scrape of the daemon's metrics, not for a hot path).
   */
  counts(): { queued: number; delivered: number; running: number; queuedByCapability: Map<string, number> } {
    const out = { queued: 0, delivered: 0, running: 0, queuedByCapability: new Map<string, number>() };
    for (const j of this.#open.values()) {
      if (j.state === "queued") {
        out.queued++;
        out.queuedByCapability.set(j.capability, (out.queuedByCapability.get(j.capability) ?? 0) + 1);
      } else if (j.state === "delivered") out.delivered++;
      else if (j.state === "running") out.running++;
    }
    return out;
  }

  /** Number of this device's jobs delivered or running. */
  inFlight(deviceId: string): number {
    let n = 0;
    for (const j of this.#deviceJobs(deviceId)) if (j.state === "delivered" || j.state === "running") n++;
    return n;
  }

  /**
   * Mark up to `capacity` of the device's queued jobs delivered (oldest first) and return
   * them; the caller sends them on the node's stream.
   */
  async claim(deviceId: string, capacity: number): Promise<JobRecord[]> {
    const r = await this.#mutex.run(async () => {
      const room = Math.min(capacity, this.#config.maxInFlightPerDevice) - this.inFlight(deviceId);
      if (room <= 0) return undefined;
      const now = this.#clock.now();
      const picked = this.#deviceJobs(deviceId)
        .filter((j) => j.state === "queued")
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
        .slice(0, room)
        .map((j): JobRecord => ({ ...j, state: "delivered", attempts: j.attempts + 1, updatedAt: now }));
      if (!picked.length) return undefined;
      // Written for its attempt count, but not waited for: a delivery whose write is lost in a
      // crash only means the job is delivered again with an attempt number repeated, which a
      // restart does anyway (docs/fleet.md 3.2, 4.4). Writes stay in call order, so the final
      // state, which is waited for, always lands after it.
      void this.#commit(
        picked.map((value) => ({ table: "jobs" as const, type: "put" as const, value })),
        picked.map((j) => j.id),
        { sync: false },
      ).catch(() => undefined); // a failed write is reported as "fatal" by #commit
      for (const j of picked) this.#track(j);
      return picked;
    });
    if (!r) return [];
    for (const j of r) this.#emit(j);
    return r;
  }

  #owned(deviceId: string, jobId: string): JobRecord | Ignored {
    const j = this.#open.get(jobId);
    if (!j) return { ignored: true, code: "FINISHED", reason: `job ${clip(jobId)} is unknown or already finished` };
    if (j.deviceId !== deviceId) return { ignored: true, code: "OTHER_DEVICE", reason: `job ${jobId} is not assigned to ${deviceId}` };
    if (j.state === "queued") return { ignored: true, code: "NOT_DELIVERED", reason: `job ${jobId} has not been delivered` };
    return j;
  }

  /** The node started a job. */
  async markRunning(deviceId: string, jobId: string): Promise<JobRecord | Ignored> {
    const r = await this.#mutex.run(async () => {
      const j = this.#owned(deviceId, jobId);
      if ("ignored" in j || j.state === "running") return { job: j };
      const next: JobRecord = { ...j, state: "running", updatedAt: this.#clock.now() };
      this.#track(next); // in memory only: a restart requeues delivered and running jobs alike
      return { job: next as JobRecord | Ignored, changed: true };
    });
    if ("changed" in r) this.#emit(r.job as JobRecord);
    return r.job;
  }

  /** The node reports a result. Results for other devices' or finished jobs are ignored. */
  async complete(deviceId: string, r: ResultInput): Promise<JobRecord | Ignored> {
    const f = await this.#mutex.run(async () => {
      const j = this.#owned(deviceId, r.jobId);
      if ("ignored" in j) return j;
      if (!r.ok) {
        // A node stops a job at the deadline by its own clock and reports the failure; that
        // is a timeout, even if it lands a moment before the daemon's own timer fires.
        const late = this.#clock.now() >= j.deadline - DEADLINE_GRACE_MS;
        return this.#finish(j, { state: late ? "timed_out" : "failed", error: (r.error || "job failed").slice(0, MAX_ERROR_BYTES) });
      }
      let output: string;
      try {
        output = jsonText(r.output ?? new Uint8Array(), "output", this.#config.maxOutputBytes, "INVALID_ARGUMENT");
      } catch (e) {
        return this.#finish(j, { state: "failed", error: `node sent a bad result: ${(e as Error).message}` });
      }
      return this.#finish(j, { state: "succeeded", output });
    });
    return "ignored" in f ? f : f.done;
  }

  /**
   * Cancel a job that has not finished. A delivered or running job is also cancelled on its node.
   * A job that `canSee` does not admit is not found, finished or not.
   * @throws JobError INVALID_ARGUMENT (not a job id), JOB_NOT_FOUND, JOB_FINISHED.
   */
  async cancel(jobId: string, reason = "cancelled", canSee: CanSee = everyJob): Promise<JobRecord> {
    jobIdArg(jobId);
    const f = await this.#mutex.run(async () => {
      const cur = this.#open.get(jobId);
      if (cur && !canSee(cur)) throw new JobError("JOB_NOT_FOUND", `no job ${jobId}`);
      if (!cur) {
        await this.#pending.get(jobId)?.catch(() => undefined); // its final state, once durable
        const done = await this.#repo.get("jobs", jobId);
        if (!done || !canSee(done)) throw new JobError("JOB_NOT_FOUND", `no job ${jobId}`);
        throw new JobError("JOB_FINISHED", `job ${jobId} already ${done.state}`);
      }
      return this.#finish(cur, { state: "cancelled", error: reason.slice(0, 256) });
    });
    const job = await f.done;
    if (f.prev === "delivered" || f.prev === "running") {
      this.#events.emit("cancel", { deviceId: job.deviceId, jobId, reason });
    }
    return job;
  }

  /** The device's stream ended: its delivered and running jobs go back to the queue. */
  async requeueDevice(deviceId: string): Promise<number> {
    const r = await this.#mutex.run(async () => {
      const now = this.#clock.now();
      const back = this.#deviceJobs(deviceId)
        .filter((j) => j.state === "delivered" || j.state === "running")
        .map((j): JobRecord => ({ ...j, state: "queued", updatedAt: now }));
      if (!back.length) return undefined;
      for (const j of back) this.#track(j); // in memory only: a restart requeues delivered jobs anyway
      return back;
    });
    if (!r) return 0;
    for (const j of r) this.#emit(j);
    return r.length;
  }

  /** Fail every unfinished job of a device (used on revocation, and at start for revoked devices). */
  async failDevice(deviceId: string, reason: string): Promise<number> {
    const done = await this.#mutex.run(async () => this.#deviceJobs(deviceId).map((j) => this.#finish(j, { state: "failed", error: reason }).done));
    await Promise.all(done);
    return done.length;
  }

  /**
   * A job that `canSee` admits.
   * @throws JobError INVALID_ARGUMENT (not a job id), JOB_NOT_FOUND
   */
  async get(jobId: string, canSee: CanSee = everyJob): Promise<JobRecord> {
    jobIdArg(jobId);
    await this.#pending.get(jobId)?.catch(() => undefined); // never show a change before it is durable
    const j = this.#open.get(jobId) ?? (await this.#repo.get("jobs", jobId));
    if (!j || !canSee(j)) throw new JobError("JOB_NOT_FOUND", `no job ${jobId}`);
    return j;
  }

  /**
   * The most recent jobs first (at most 1000), optionally of one device, of one dispatcher and
   * in one state, and only those `canSee` admits. Reads the owner index (with `dispatchedBy`),
   * the device index or the job table from the newest end, never every job it does not return
   * (but for `canSee`, which skips jobs as it reads them).
   */
  async list(f: { deviceId?: string; dispatchedBy?: string; state?: string; limit?: number; canSee?: CanSee } = {}): Promise<JobRecord[]> {
    const limit = Math.min(Math.max(f.limit || 100, 1), 1000);
    const canSee = f.canSee ?? everyJob;
    await Promise.all([...this.#pending.values()].map((p) => p.catch(() => undefined)));
    const out: JobRecord[] = [];
    const take = (j: JobRecord | undefined) => {
      const cur = j ? (this.#open.get(j.id) ?? j) : undefined;
      if (
        cur &&
        (!f.state || cur.state === f.state) &&
        (!f.deviceId || cur.deviceId === f.deviceId) &&
        (f.dispatchedBy === undefined || cur.dispatchedBy === f.dispatchedBy) &&
        canSee(cur)
      ) {
        out.push(cur);
      }
    };
    const PAGE = Math.max(limit, 256);
    const index = f.dispatchedBy !== undefined ? { table: "ownerJobs" as const, of: f.dispatchedBy } : f.deviceId ? { table: "deviceJobs" as const, of: f.deviceId } : undefined;
    if (index) {
      const prefix = `${index.of}/`;
      let lt = `${prefix}\uffff`;
      for (;;) {
        const page = await this.#repo.scan(index.table, { gte: prefix, lt, reverse: true, limit: PAGE });
        for (const e of page) {
          if (out.length >= limit) break;
          take(this.#open.get(e.jobId) ?? (await this.#repo.get("jobs", e.jobId)));
        }
        if (out.length >= limit || page.length < PAGE) break;
        lt = (page[page.length - 1] as { id: string }).id;
      }
    } else {
      let lt: string | undefined;
      for (;;) {
        const page = await this.#repo.scan("jobs", { reverse: true, limit: PAGE, ...(lt ? { lt } : {}) });
        for (const j of page) {
          if (out.length >= limit) break;
          take(j);
        }
        if (out.length >= limit || page.length < PAGE) break;
        lt = (page[page.length - 1] as JobRecord).id;
      }
    }
    return out;
  }

  /**
   * Retention: look at up to RETENTION_BATCH jobs, oldest first from where the last sweep
   * stopped, and delete those that finished more than `finishedRetentionMs` ago, with their
   * index and idempotency entries. `more` says whether jobs old enough remain to be looked at
   * (call again); when it is false the next sweep starts from the oldest job again.
   */
  async sweepFinished(): Promise<{ deleted: number; more: boolean }> {
    const keep = this.#config.finishedRetentionMs;
    if (!keep) return { deleted: 0, more: false };
    const cutoff = this.#clock.now() - keep;
    // ids sort by creation time: only jobs created before the cutoff can have finished before it
    const before = `job_${Math.max(0, Math.floor(cutoff)).toString(16).padStart(12, "0")}`;
    const page = await this.#repo.scan("jobs", { lt: before, limit: RETENTION_BATCH, ...(this.#sweepCursor ? { gt: this.#sweepCursor } : {}) });
    const ops: JobOp[] = [];
    for (const j of page) {
      if (!isFinal(j.state) || j.updatedAt > cutoff || this.#open.has(j.id)) continue;
      ops.push(
        { table: "jobs", type: "del", key: j.id },
        { table: "deviceJobs", type: "del", key: `${j.deviceId}/${j.id}` },
        { table: "ownerJobs", type: "del", key: ownerKey(j) },
      );
      if (j.idempotencyKey) ops.push({ table: "idempotency", type: "del", key: `${j.dispatchedBy}\u0000${j.idempotencyKey}` });
    }
    // A fan-out's record (and its idempotency key) once every job it made is past retention:
    // each finished by its deadline, at most maxTimeoutMs after the fan-out was made.
    const fanBefore = `fan_${Math.max(0, Math.floor(cutoff - this.#config.maxTimeoutMs))
      .toString(16)
      .padStart(12, "0")}`;
    for (const f of await this.#repo.scan("fanouts", { lt: fanBefore, limit: RETENTION_BATCH })) {
      ops.push({ table: "fanouts", type: "del", key: f.id });
      if (f.idempotencyKey) ops.push({ table: "idempotency", type: "del", key: `fanout\u0000${f.dispatchedBy}\u0000${f.idempotencyKey}` });
    }
    if (ops.length) await this.#repo.batch(ops, { sync: false });
    const more = page.length === RETENTION_BATCH;
    this.#sweepCursor = more ? (page[page.length - 1] as JobRecord).id : "";
    return { deleted: ops.filter((o) => o.table === "jobs").length, more };
  }

  close(): void {
    this.#closed = true;
    for (const id of [...this.#deadlines.keys()]) this.#disarm(id);
  }
}
