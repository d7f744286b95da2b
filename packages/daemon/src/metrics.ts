/**
 * The daemon's Prometheus metrics (`tether daemon --metrics HOST:PORT`, docs/operations.md,
 * "Metrics"): one class owning a dedicated prom-client Registry (never the global one), and
 * the small HTTP server that serves it beside /healthz and /readyz. This module is imported
 * only when metrics are asked for: prom-client takes 50-90 ms to load.
 *
 * The core packages know nothing of it: they offer hooks (the job queue's "finished" event,
 * pairing's onOutcome, the audit log's onAppend, the store's onCommit) and the daemon wires
 * them here. On the dispatch hot path a job costs a few additions to plain numbers (see
 * PlainCounter below); everything that is a count of what is there now (connected nodes,
 * jobs by state, queue depth, pending requests, certificate expiry, the CRL) is computed at
 * scrape time, in `collect()` (docs/benchmarks.md, "The cost of --metrics").
 *
 * Labels never carry an id, an address or a secret, and never an unbounded value: label
 * values come from fixed sets (job states, pairing results, audit event types, refusal
 * stages) or from names that are capped (capabilities, refusal reasons: the first
 * MAX_LABEL_VALUES distinct values each get their own series, any later one is counted as
 * OTHER_LABEL).
 */
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { Metric } from "prom-client";
import { AuditEvent } from "@tether/base";
import type { JobManager, JobRecord } from "@tether/jobs";
import type { DeviceRecord, PairingManager, RequestRecord } from "@tether/pairing";
import { formatHostPort } from "./config.js";
import type { Revocations } from "./crl.js";
import { describe } from "./errors.js";
import type { Logger } from "./log.js";
import type { Readiness } from "./readiness.js";

/** The address suggested for --metrics: loopback, the port Prometheus's exporter list gives OpenTelemetry's. */
export const SUGGESTED_METRICS_LISTEN = "127.0.0.1:9464";
/** Distinct values a capped label (capability, reason) takes before the rest become OTHER_LABEL. */
export const MAX_LABEL_VALUES = 32;
export const OTHER_LABEL = "_other";
/** Connections the metrics server holds at once; more are refused as they are accepted. */
export const MAX_METRICS_CONNECTIONS = 16;
/** A request not complete in this long is dropped. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

/** Seconds from dispatch to the final state: from a quick echo to an hour-long job. */
const JOB_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds one group commit of the store takes (LevelDB's write, and its fsync when durable). */
const STORE_WRITE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const FINAL_STATES = ["succeeded", "failed", "timed_out", "cancelled"] as const;
const PAIRING_RESULTS = ["approved", "rejected", "expired"] as const;
/** Where a refusal happened: the TLS listener, a Pairing call, or a Node.Connect stream's certificate check. */
export type RefusalStage = "tls" | "pairing" | "node";
const STAGES: readonly RefusalStage[] = ["tls", "pairing", "node"];
/** What a label value may look like at all (an error code, a capability name); anything else is OTHER_LABEL. */
const LABEL_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A label whose values are capped: the first `max` distinct values are kept as they are (and
 * stay kept, so a series never changes its meaning), every later one becomes OTHER_LABEL.
 */
export class LabelCap {
  readonly #max: number;
  readonly #kept = new Set<string>();

  constructor(max = MAX_LABEL_VALUES) {
    this.#max = max;
  }

  /** The label value to use for `value`. */
  of(value: string): string {
    if (this.#kept.has(value)) return value;
    if (this.#kept.size >= this.#max || !LABEL_VALUE.test(value)) return OTHER_LABEL;
    this.#kept.add(value);
    return value;
  }

  /** The values kept so far, in the order they came. */
  values(): IterableIterator<string> {
    return this.#kept.values();
  }
}

/** What the scrape-time gauges read; given once the daemon has loaded its state. */
export type MetricsSources = {
  now: () => number;
  onlineCount: () => number;
  devices: () => Iterable<DeviceRecord>;
  jobs: Pick<JobManager, "counts">;
  pairing: Pick<PairingManager, "listRequests">;
  revocations: Pick<Revocations, "number" | "revokedCount" | "current">;
  /** notAfter (ms since the epoch) of the daemon's own certificates, as they are now */
  certificates: () => { ca: number; server: number; signer: number };
};

type Snapshot = {
  jobs: ReturnType<JobManager["counts"]>;
  pending: { count: number; oldestSeconds: number };
  devices: { active: number; revoked: number; soonestNotAfter?: number };
};
type Inc = { inc(n?: number): void };
type Observe = { observe(v: number): void };
type Labels = Record<string, string>;

/*
 * The counters and histograms the daemon's events feed (some once per job) are plain numbers,
 * each series made once: prom-client's own would hash the label set, check it and allocate on
 * every increment and observation (its histogram's observe was 0.7 % of the daemon's busy time
 * under dispatch load, more than all the rest of the metrics together). prom-client still reads
 * them (its registry reads any metric through get(), the shape of Counter and Histogram's own)
 * and writes the exposition.
 */

/** A counter whose series are made up front (or as their first value comes), each a number. */
class PlainCounter {
  readonly type = "counter";
  readonly aggregator = "sum";
  readonly name: string;
  readonly help: string;
  readonly #series: { labels: Labels; value: number }[] = [];

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  /** A new series at 0. */
  series(labels: Labels = {}): Inc {
    const s = { labels, value: 0 };
    this.#series.push(s);
    return {
      inc: (n = 1) => {
        s.value += n;
      },
    };
  }

  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.#series.map((s) => ({ labels: s.labels, value: s.value })) };
  }
}

/** A histogram over fixed buckets whose series are made up front: an observation is a few number operations. */
class PlainHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly name: string;
  readonly help: string;
  readonly #bounds: readonly number[];
  readonly #series: { labels: Labels; counts: Float64Array; sum: number }[] = [];

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.#bounds = bounds;
  }

  series(labels: Labels): Observe {
    const s = { labels, counts: new Float64Array(this.#bounds.length + 1), sum: 0 };
    this.#series.push(s);
    const bounds = this.#bounds;
    const n = bounds.length;
    return {
      observe: (v) => {
        if (!Number.isFinite(v)) return;
        let i = 0;
        while (i < n && v > (bounds[i] as number)) i++;
        s.counts[i] = (s.counts[i] as number) + 1;
        s.sum += v;
      },
    };
  }

  async get() {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const s of this.#series) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...s.labels }, value: acc });
      });
      acc += s.counts[this.#bounds.length] as number;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", ...s.labels }, value: acc });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: acc });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class DaemonMetrics {
  readonly registry = new Registry();
  #src: MetricsSources | undefined;
  #snap: Snapshot | undefined;
  readonly #readiness: () => Readiness;
  readonly #finished = new Map<string, { count: Inc; duration: Observe }>();
  readonly #outcomes = new Map<string, Inc>();
  readonly #auditCounter: PlainCounter;
  readonly #audit = new Map<string, Inc>();
  readonly #revocations: Inc;
  readonly #started: Inc;
  readonly #storeDurable: Observe;
  readonly #storeBuffered: Observe;
  readonly #refused: PlainCounter;
  /** per stage: the capped reasons and their series, made once each */
  readonly #reasons = new Map<RefusalStage, { cap: LabelCap; series: Map<string, Inc> }>();
  readonly #capabilities = new LabelCap();
  /**
   * The gauges of the daemon's state, exported from attach() on: before it they would read 0
   * (a gauge without labels always has a value), which would be a false "no nodes".
   */
  readonly #stateGauges: Gauge[];

  constructor(o: { version: string; readiness: () => Readiness }) {
    this.#readiness = o.readiness;
    const registers = [this.registry];
    const plain = <M extends PlainCounter | PlainHistogram>(m: M): M => {
      this.registry.registerMetric(m as unknown as Metric);
      return m;
    };
    /** A gauge of one value read at scrape time (registered by attach()); not set while `read` has nothing yet. */
    const scalar = (name: string, help: string, read: () => number | undefined): Gauge => {
      const g: Gauge = new Gauge({
        name,
        help,
        registers: [],
        collect: () => {
          const v = read();
          if (v !== undefined) g.set(v);
        },
      });
      return g;
    };
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: "tether_build_info", help: "Always 1; the daemon's version in a label.", labelNames: ["version"], registers }).set({ version: o.version }, 1);
    const ready = new Gauge({
      name: "tether_ready",
      help: "1 when the daemon is ready to serve (as /readyz answers 200), else 0.",
      registers,
      collect: () => {
        ready.set(this.#readiness().ready ? 1 : 0);
      },
    });

    // --- jobs
    const finished = plain(new PlainCounter("tether_jobs_finished_total", "Jobs that reached a final state, by that state."));
    const duration = plain(new PlainHistogram("tether_job_duration_seconds", "Seconds from a job's dispatch to its final state, by that state.", JOB_DURATION_BUCKETS));
    for (const state of FINAL_STATES) this.#finished.set(state, { count: finished.series({ state }), duration: duration.series({ state }) });
    const open = new Gauge({
      name: "tether_jobs_open",
      help: "Unfinished jobs now, by state (queued: waiting for its node; delivered and running: on a node).",
      labelNames: ["state"],
      registers: [], // registered by attach()
      collect: () => {
        const c = this.#snap?.jobs;
        if (!c) return;
        open.set({ state: "queued" }, c.queued);
        open.set({ state: "delivered" }, c.delivered);
        open.set({ state: "running" }, c.running);
      },
    });
    const depth = new Gauge({
      name: "tether_job_queue_depth",
      help: `Queued jobs now, by capability (the first ${MAX_LABEL_VALUES} capabilities seen; the rest as ${OTHER_LABEL}).`,
      labelNames: ["capability"],
      registers: [], // registered by attach()
      collect: () => {
        const byCap = this.#snap?.jobs.queuedByCapability;
        if (!byCap) return;
        const sums = new Map<string, number>();
        for (const [cap, n] of byCap) {
          const label = this.#capabilities.of(cap);
          sums.set(label, (sums.get(label) ?? 0) + n);
        }
        depth.reset();
        // every capability kept so far, 0 when none of its jobs waits: a series does not vanish
        for (const cap of this.#capabilities.values()) depth.set({ capability: cap }, sums.get(cap) ?? 0);
        const other = sums.get(OTHER_LABEL);
        if (other !== undefined) depth.set({ capability: OTHER_LABEL }, other);
      },
    });

    // --- nodes and devices
    const connected = scalar("tether_nodes_connected", "Devices with a registered Node.Connect stream now.", () => this.#src?.onlineCount());
    const devices = new Gauge({
      name: "tether_devices",
      help: "Paired devices, by state (active or revoked).",
      labelNames: ["state"],
      registers: [], // registered by attach()
      collect: () => {
        const d = this.#snap?.devices;
        if (!d) return;
        devices.set({ state: "active" }, d.active);
        devices.set({ state: "revoked" }, d.revoked);
      },
    });

    // --- pairing
    const pending = scalar("tether_pairing_requests_pending", "Pairing requests waiting for an admin's decision.", () => this.#snap?.pending.count);
    const oldest = scalar(
      "tether_pairing_request_oldest_pending_seconds",
      "How long the oldest pending pairing request has waited, in seconds (0 when none waits).",
      () => this.#snap?.pending.oldestSeconds,
    );
    const outcomes = plain(
      new PlainCounter("tether_pairing_outcomes_total", "Pairing requests decided, by result: approved (by an admin or a preauthorization), rejected, expired."),
    );
    for (const result of PAIRING_RESULTS) this.#outcomes.set(result, outcomes.series({ result }));
    this.#refused = plain(
      new PlainCounter(
        "tether_handshakes_refused_total",
        `Refused handshakes, by stage (tls: the listener's connection and TLS handshake; pairing: a Pairing call; node: a Node.Connect stream's certificate) and reason (a code; the first ${MAX_LABEL_VALUES} per stage, the rest as ${OTHER_LABEL}).`,
      ),
    );
    for (const stage of STAGES) this.#reasons.set(stage, { cap: new LabelCap(), series: new Map() });
    this.#started = plain(
      new PlainCounter("tether_pairing_handshakes_started_total", "Pairing handshakes started (a Start that succeeded; each counts an attempt against its code)."),
    ).series();

    // --- revocation and certificates
    this.#revocations = plain(new PlainCounter("tether_revocations_total", "Device revocations written (each revoke call, a repeated one included).")).series();
    const crlNumber = scalar("tether_crl_number", "The CRL number of the last CRL the daemon signed.", () => this.#src?.revocations.number);
    const crlRevoked = scalar("tether_crl_revoked_certificates", "Certificate serials the current CRL lists.", () => this.#src?.revocations.revokedCount);
    const crlNext = scalar("tether_crl_next_update_timestamp_seconds", "The current CRL's nextUpdate, in seconds since the epoch.", () => {
      const crl = this.#src?.revocations.current();
      return crl ? crl.nextUpdate / 1000 : undefined;
    });
    const expiry = new Gauge({
      name: "tether_certificate_expiry_seconds",
      help: "Seconds until a certificate expires: the root CA, the listener's server certificate, the pairing signer, and the soonest of the device certificates not revoked and not yet expired.",
      labelNames: ["certificate"],
      registers: [], // registered by attach()
      collect: () => {
        if (!this.#src) return;
        const now = this.#src.now();
        const c = this.#src.certificates();
        expiry.reset();
        expiry.set({ certificate: "ca" }, (c.ca - now) / 1000);
        expiry.set({ certificate: "server" }, (c.server - now) / 1000);
        expiry.set({ certificate: "signer" }, (c.signer - now) / 1000);
        const soonest = this.#snap?.devices.soonestNotAfter;
        if (soonest !== undefined) expiry.set({ certificate: "device" }, (soonest - now) / 1000);
      },
    });

    // --- the store and the audit log
    const store = plain(
      new PlainHistogram(
        "tether_store_write_duration_seconds",
        "Seconds one group commit of the store takes: LevelDB's write, with its fsync when durable is true.",
        STORE_WRITE_BUCKETS,
      ),
    );
    this.#storeDurable = store.series({ durable: "true" });
    this.#storeBuffered = store.series({ durable: "false" });
    this.#auditCounter = plain(new PlainCounter("tether_audit_entries_total", "Audit log entries written, by event type."));
    for (const type of Object.values(AuditEvent)) this.#audit.set(type, this.#auditCounter.series({ type }));
    this.#stateGauges = [open, depth, connected, devices, pending, oldest, crlNumber, crlRevoked, crlNext, expiry];
  }

  /**
   * What this scrape's gauges read, taken once before the registry is read (prom-client reads
   * every metric at once: one gauge's collect cannot wait for another's). One pass over the
   * open jobs and one over the devices serve several gauges.
   */
  async #snapshot(src: MetricsSources): Promise<Snapshot> {
    const pending = await src.pairing.listRequests("pending"); // oldest first
    const first = pending[0];
    let active = 0;
    let revoked = 0;
    let soonest: number | undefined;
    const now = src.now();
    for (const d of src.devices()) {
      if (d.revokedAt) {
        revoked++;
        continue;
      }
      active++;
      // current certificates only: one that has expired is of no use (its device pairs again)
      if (d.certificateFingerprint && d.certificateNotAfter > now && (soonest === undefined || d.certificateNotAfter < soonest)) soonest = d.certificateNotAfter;
    }
    return {
      jobs: src.jobs.counts(),
      pending: { count: pending.length, oldestSeconds: first ? Math.max(0, (src.now() - first.createdAt) / 1000) : 0 },
      devices: { active, revoked, ...(soonest !== undefined ? { soonestNotAfter: soonest } : {}) },
    };
  }

  /** Start reading the daemon's state at scrape time (until then only process metrics and tether_ready). */
  attach(sources: MetricsSources): void {
    if (this.#src) return;
    this.#src = sources;
    for (const g of this.#stateGauges) this.registry.registerMetric(g);
  }

  // The hooks below are called by the core packages' events, some on the dispatch hot path:
  // their series were made in the constructor, and none of them throws into the code that
  // told them (a job's completion, a commit).

  /** A job's final state is durable (the job queue's "finished" event). */
  jobFinished(j: JobRecord): void {
    const s = this.#finished.get(j.state);
    if (!s) return;
    s.count.inc();
    s.duration.observe(Math.max(0, (j.updatedAt - j.createdAt) / 1000)); // a record without times: counted, not timed (NaN is not observed)
  }

  /** A pairing handshake started (a Start that succeeded). */
  handshakeStarted(): void {
    this.#started.inc();
  }

  /** A pairing request was decided (pairing's onOutcome). */
  pairingOutcome(r: RequestRecord): void {
    this.#outcomes.get(r.state)?.inc();
  }

  /** One group commit of the store (the store's onCommit). */
  storeCommitted(seconds: number, durable: boolean): void {
    (durable ? this.#storeDurable : this.#storeBuffered).observe(seconds);
  }

  /** Entries of an audited write, durable now (the audit log's onAppend). */
  auditAppended(entries: readonly { type: string }[]): void {
    for (const e of entries) {
      let series = this.#audit.get(e.type);
      if (!series) {
        // a type this build does not know (none today): one series for all of them
        series = this.#audit.get(OTHER_LABEL) ?? this.#auditCounter.series({ type: OTHER_LABEL });
        this.#audit.set(OTHER_LABEL, series);
      }
      series.inc();
      if (e.type === AuditEvent.DeviceRevoked) this.#revocations.inc();
    }
  }

  /** A refused handshake; `reason` is a code (capped per stage). */
  handshakeRefused(stage: RefusalStage, reason: string): void {
    const r = this.#reasons.get(stage);
    if (!r) return;
    const label = r.cap.of(reason);
    let series = r.series.get(label);
    if (!series) {
      series = this.#refused.series({ stage, reason: label });
      r.series.set(label, series);
    }
    series.inc();
  }

  /** The exposition, in the Prometheus text format (read at the time of the call). */
  async text(): Promise<string> {
    this.#snap = this.#src ? await this.#snapshot(this.#src) : undefined;
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function reply(res: ServerResponse, code: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...headers,
  });
  res.end(body);
}

/** True for an address only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

export type MetricsServer = { address: string; close(): Promise<void> };

/**
 * Serve `metrics` over plain HTTP on host:port: GET /metrics (the exposition), GET /healthz
 * (200 while the process runs), GET /readyz (200 when `readiness` says ready, else 503 and
 * its one-line reason). Any other path is 404, any other method on these paths 405.
 * @throws the listen error (EADDRINUSE, EACCES, ...)
 */
export function serveMetrics(o: { host: string; port: number; metrics: DaemonMetrics; readiness: () => Readiness; log: Logger }): Promise<MetricsServer> {
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    if (path !== "/metrics" && path !== "/healthz" && path !== "/readyz") return reply(res, 404, "not found: the paths are /metrics, /healthz and /readyz\n");
    if (req.method !== "GET") return reply(res, 405, "method not allowed: use GET\n", { allow: "GET" });
    if (path === "/healthz") return reply(res, 200, "ok\n");
    if (path === "/readyz") {
      const r = o.readiness();
      return r.ready ? reply(res, 200, "ready\n") : reply(res, 503, `not ready: ${r.reason.replace(/[\r\n]+/g, " ")}\n`);
    }
    o.metrics.text().then(
      (text) => reply(res, 200, text, { "content-type": o.metrics.contentType }),
      (err: unknown) => {
        o.log.error("metrics scrape failed", { error: describe(err) });
        reply(res, 500, "metrics collection failed; see the daemon's log\n");
      },
    );
  };
  const server = createServer({ requestTimeout: METRICS_REQUEST_TIMEOUT_MS, headersTimeout: METRICS_REQUEST_TIMEOUT_MS / 2, keepAliveTimeout: 5_000 }, handle);
  server.maxConnections = MAX_METRICS_CONNECTIONS;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: o.host, port: o.port }, () => {
      server.off("error", reject);
      server.on("error", (err) => o.log.error("metrics server error", { error: describe(err) }));
      server.on("clientError", (_err, socket) => socket.destroy());
      const address = formatHostPort(o.host, (server.address() as { port: number }).port);
      resolve({
        address,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
