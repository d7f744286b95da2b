/**
 * Prometheus metrics (`tether daemon --metrics`), read the way Prometheus reads them: a real
 * daemon (in this process, port 0, real TLS and LevelDB) with a real node taking jobs, scraped
 * over HTTP and parsed by an off-the-shelf parser (Debian's python3-prometheus-client,
 * text_string_to_metric_families), and linted by promtool (Debian's prometheus). The values
 * move as the work does: pairing requests and their outcomes, refused handshakes, jobs by
 * state, the latency histogram, connected nodes, queue depth per capability (capped), a
 * revocation and the CRL. No label value carries an id or an address. /healthz, /readyz
 * (503 after a failed store write), 404 and 405; the ready line; contrib/'s alert rules and
 * dashboard name only metrics the daemon exports.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { request } from "node:http";
import { connect as tcpConnect, createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { connect } from "@tether/node";
import type { NodeConnection } from "@tether/node";
import { FAULT_FILE_ENV } from "@tether/store";
import { rpc } from "../packages/cli/src/cli.ts";
import { DaemonMetrics, LabelCap, MAX_LABEL_VALUES, OTHER_LABEL, isLoopback } from "../packages/daemon/src/metrics.ts";
import {
  ROOT,
  admin,
  cliInProcess,
  expectStatus,
  handshakeFinish,
  handshakeStart,
  mintCode,
  pairDevice,
  pinParts,
  rawNodeStream,
  rawPairing,
  spawnCli,
  startDaemonProcess,
  startTestDaemon,
  stopDaemonProcess,
  streamEnd,
  tempDir,
  waitFor,
} from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const PY = "/usr/bin/python3";
/** Parse an exposition with prometheus_client's own parser: every sample, as JSON. */
const PARSE = `
import sys, json, math
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        v = s.value if math.isfinite(s.value) else str(s.value)
        out.append({"family": fam.name, "type": fam.type, "name": s.name, "labels": s.labels, "value": v})
print(json.dumps(out))
`;

type Sample = { family: string; type: string; name: string; labels: Record<string, string>; value: number };

function parse(text: string): Sample[] {
  const r = spawnSync(PY, ["-c", PARSE], { input: text, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0)
    throw new Error(`python3-prometheus-client could not parse the exposition (is python3-prometheus-client installed? test/ensure-tools.sh): ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout) as Sample[];
}

type Reply = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** One HTTP request on a fresh connection (no keep-alive agent to outlive the test). */
function http(address: string, method: string, path: string): Promise<Reply> {
  const i = address.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const req = request({ host: address.slice(0, i), port: Number(address.slice(i + 1)), method, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const ctx = {} as {
  tmp: ReturnType<typeof tempDir>;
  d: TestDaemon;
  fault: string;
  node?: NodeConnection;
  nodeDir: string;
  device: string;
  /** every label value of every scrape, for the id and address check */
  seen: Sample[];
  ids: string[];
  release?: () => void;
};

async function scrape(): Promise<Sample[]> {
  const r = await http(ctx.d.metrics as string, "GET", "/metrics");
  assert.is(r.status, 200, r.body);
  assert.match(String(r.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  const samples = parse(r.body);
  ctx.seen.push(...samples);
  return samples;
}

/** The value of the sample `name` whose labels include `labels` (undefined when there is none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

/** Scrape until `pred` holds (values computed at scrape time follow the daemon's state within a poll). */
async function scrapeUntil(pred: (s: Sample[]) => boolean, what: string): Promise<Sample[]> {
  let last: Sample[] = [];
  await waitFor(async () => pred((last = await scrape())), what);
  return last;
}

const M = suite("metrics");

M.before(async () => {
  ctx.tmp = tempDir("tether-metrics-");
  ctx.seen = [];
  ctx.ids = [];
  // The store reads its fault-injection file's name when it opens; the file is made only by
  // the last test, to fail a write under the running daemon.
  ctx.fault = join(ctx.tmp.path, "fault");
  process.env[FAULT_FILE_ENV] = ctx.fault;
  ctx.d = await startTestDaemon({ metrics: "127.0.0.1:0" });
  ctx.nodeDir = join(ctx.tmp.path, "node");
});

M.after(async () => {
  ctx.release?.();
  await ctx.node?.close();
  await ctx.d?.stop();
  delete process.env[FAULT_FILE_ENV];
  ctx.tmp.remove();
});

M("/healthz and /readyz answer 200; other paths 404, other methods 405; nothing is echoed", async () => {
  const addr = ctx.d.metrics as string;
  assert.match(addr, /^127\.0\.0\.1:\d+$/);
  assert.ok(
    ctx.d.logs.some((l) => l.includes('"msg":"daemon ready"') && l.includes(`"metrics":"${addr}"`)),
    "the ready log line names the metrics address",
  );
  const h = await http(addr, "GET", "/healthz");
  assert.is(h.status, 200);
  assert.is(h.body, "ok\n");
  const r = await http(addr, "GET", "/readyz");
  assert.is(r.status, 200);
  assert.is(r.body, "ready\n");
  assert.is((await http(addr, "GET", "/metrics?x=1")).status, 200, "a query string is ignored");
  for (const path of ["/", "/metricsx", "/metrics/", "/../metrics", "/<script>"]) {
    const nf = await http(addr, "GET", path);
    assert.is(nf.status, 404, path);
    assert.not.match(nf.body, /script|metricsx/, "the path is not echoed");
  }
  for (const method of ["POST", "PUT", "DELETE", "HEAD", "OPTIONS"]) {
    for (const path of ["/metrics", "/healthz", "/readyz"]) {
      const na = await http(addr, method, path);
      assert.is(na.status, 405, `${method} ${path}`);
      assert.is(na.headers.allow, "GET");
    }
  }
});

M("pending requests, outcomes and refused handshakes move with pairing traffic", async () => {
  let s = await scrape();
  assert.is(value(s, "tether_ready"), 1);
  assert.is(value(s, "tether_pairing_requests_pending"), 0);
  assert.is(value(s, "tether_pairing_request_oldest_pending_seconds"), 0);
  assert.is(value(s, "tether_pairing_outcomes_total", { result: "rejected" }), 0);
  assert.is(value(s, "tether_handshakes_refused_total", { stage: "pairing", reason: "WRONG_CODE" }), undefined);
  assert.is(value(s, "tether_pairing_handshakes_started_total"), 0);

  // A request left pending, then rejected.
  const p = rawPairing(ctx.d.listen);
  try {
    const code = await mintCode(ctx.d);
    const h = await handshakeStart(p, pinParts(code.code));
    const req = await handshakeFinish(p, h);
    ctx.ids.push(req.requestId, req.deviceId, code.code.replace(/-/g, ""));
    s = await scrape();
    assert.is(value(s, "tether_pairing_handshakes_started_total"), 1);
    assert.is(value(s, "tether_audit_entries_total", { type: "request.created" }), 1);
    assert.is(value(s, "tether_pairing_requests_pending"), 1);
    const waited = value(s, "tether_pairing_request_oldest_pending_seconds") as number;
    assert.ok(waited >= 0 && waited < 60, `oldest pending ${waited} s`);
    await admin(ctx.d, "RejectRequest", { id: req.requestId, reason: "not ours" });
    s = await scrape();
    assert.is(value(s, "tether_pairing_requests_pending"), 0);
    assert.is(value(s, "tether_pairing_outcomes_total", { result: "rejected" }), 1);
    assert.is(value(s, "tether_pairing_outcomes_total", { result: "approved" }), 0);

    // A wrong PIN: the daemon refuses the Finish (WRONG_CODE), once.
    const code2 = await mintCode(ctx.d);
    const parts = pinParts(code2.code);
    const wrong = { ...parts, secret: parts.secret === "13572468" ? "24681357" : "13572468" };
    const bad = await handshakeStart(p, wrong);
    assert.match(await expectStatus(handshakeFinish(p, bad), status.UNAUTHENTICATED), /WRONG_CODE/);
  } finally {
    p.close();
  }
  s = await scrape();
  assert.is(value(s, "tether_handshakes_refused_total", { stage: "pairing", reason: "WRONG_CODE" }), 1);
  assert.is(value(s, "tether_pairing_handshakes_started_total"), 2);
  assert.is(value(s, "tether_audit_entries_total", { type: "request.created" }), 1, "the wrong PIN created no request");

  // Not TLS at all on the node listener: a refused TLS handshake.
  const before = value(s, "tether_handshakes_refused_total", { stage: "tls", reason: "tls_error" }) ?? 0;
  await new Promise<void>((resolve) => {
    const i = ctx.d.listen.lastIndexOf(":");
    const sock = tcpConnect({ host: ctx.d.listen.slice(0, i), port: Number(ctx.d.listen.slice(i + 1)) }, () => sock.write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    sock.on("error", () => undefined);
    sock.on("close", () => resolve());
    sock.resume();
  });
  await scrapeUntil((x) => (value(x, "tether_handshakes_refused_total", { stage: "tls", reason: "tls_error" }) ?? 0) === before + 1, "the TLS refusal counted");
});

M("a real node: connected nodes, jobs by state, the latency histogram, queue depth, the store's writes", async () => {
  let s = await scrape();
  const approved0 = value(s, "tether_pairing_outcomes_total", { result: "approved" }) as number;
  const writes0 = value(s, "tether_store_write_duration_seconds_count", { durable: "true" }) as number;
  assert.is(value(s, "tether_nodes_connected"), 0);
  assert.is(value(s, "tether_devices", { state: "active" }), 0);
  assert.is(value(s, "tether_certificate_expiry_seconds", { certificate: "device" }), undefined, "no device yet");

  ctx.device = await pairDevice(ctx.d, ctx.nodeDir, { name: "metrics-node" });
  ctx.ids.push(ctx.device);
  let held: () => void = () => undefined;
  const gate = new Promise<void>((r) => (held = r));
  ctx.release = held;
  const node = connect(ctx.nodeDir, { daemon: ctx.d.listen, maxConcurrency: 1 });
  node.handle("echo", (x) => x);
  node.handle("boom", () => {
    throw new Error("boom");
  });
  node.handle("hold", async () => {
    await gate;
    return "released";
  });
  // Forty more capabilities, for the cap on the capability label (next test).
  for (let i = 0; i < MAX_LABEL_VALUES + 8; i++) node.handle(`cap-${String(i).padStart(2, "0")}`, (x) => x);
  node.on("fatal", () => undefined);
  ctx.node = node;
  await node.start();

  s = await scrapeUntil((x) => value(x, "tether_nodes_connected") === 1, "one connected node");
  assert.is(value(s, "tether_pairing_outcomes_total", { result: "approved" }), approved0 + 1);
  assert.is(value(s, "tether_devices", { state: "active" }), 1);
  const deviceExpiry = value(s, "tether_certificate_expiry_seconds", { certificate: "device" }) as number;
  assert.ok(deviceExpiry > 23 * 3600 && deviceExpiry <= 24 * 3600, `device certificate expires in ${deviceExpiry} s (24 h lifetime)`);
  for (const c of ["ca", "server", "signer"]) assert.ok((value(s, "tether_certificate_expiry_seconds", { certificate: c }) as number) > 30 * 86400, c);

  const target = { kind: "socket" as const, dataDir: ctx.d.dataDir };
  const run = (capability: string) =>
    rpc<{ id: string; state: string }>("Orchestrator", target, "Run", { deviceId: ctx.device, capability, input: Buffer.from('{"n":1}'), timeoutMs: 30_000, idempotencyKey: "" });
  const N = 5;
  for (let i = 0; i < N; i++) {
    const j = await run("echo");
    assert.is(j.state, "succeeded");
    ctx.ids.push(j.id);
  }
  const f = await run("boom");
  assert.is(f.state, "failed");
  ctx.ids.push(f.id);
  s = await scrape();
  assert.is(value(s, "tether_jobs_finished_total", { state: "succeeded" }), N);
  assert.is(value(s, "tether_jobs_finished_total", { state: "failed" }), 1);
  assert.is(value(s, "tether_job_duration_seconds_count", { state: "succeeded" }), N);
  assert.is(value(s, "tether_job_duration_seconds_count", { state: "failed" }), 1);
  const sum = value(s, "tether_job_duration_seconds_sum", { state: "succeeded" }) as number;
  assert.ok(sum > 0 && sum < N * 30, `latency sum ${sum} s`);
  assert.is(value(s, "tether_job_duration_seconds_bucket", { state: "succeeded", le: "+Inf" }), N);
  assert.ok((value(s, "tether_job_duration_seconds_bucket", { state: "succeeded", le: "10" }) as number) === N, "every echo under 10 s");
  assert.is(value(s, "tether_audit_entries_total", { type: "job.dispatched" }), N + 1);
  const writes1 = value(s, "tether_store_write_duration_seconds_count", { durable: "true" }) as number;
  assert.ok(writes1 >= writes0 + N, `durable store writes counted (${writes0} -> ${writes1})`);
  assert.ok((value(s, "tether_store_write_duration_seconds_sum", { durable: "true" }) as number) > 0);

  // One job held running on the node (its only slot), a second one queued behind it.
  const dispatch = (capability: string) =>
    rpc<{ id: string; state: string }>("Orchestrator", target, "Dispatch", { deviceId: ctx.device, capability, input: Buffer.from("{}"), timeoutMs: 60_000, idempotencyKey: "" });
  const a = await dispatch("hold");
  const b = await dispatch("hold");
  ctx.ids.push(a.id, b.id);
  s = await scrapeUntil((x) => value(x, "tether_jobs_open", { state: "running" }) === 1, "one job running");
  assert.is(value(s, "tether_jobs_open", { state: "queued" }), 1);
  assert.is(value(s, "tether_jobs_open", { state: "delivered" }), 0);
  assert.is(value(s, "tether_job_queue_depth", { capability: "hold" }), 1);
  held();
  s = await scrapeUntil((x) => value(x, "tether_jobs_finished_total", { state: "succeeded" }) === N + 2, "both held jobs done");
  assert.is(value(s, "tether_jobs_open", { state: "running" }), 0);
  assert.is(value(s, "tether_jobs_open", { state: "queued" }), 0);
  assert.is(value(s, "tether_job_queue_depth", { capability: "hold" }), 0, "a capability once seen stays, at 0");
  assert.is(value(s, "tether_job_duration_seconds_count", { state: "succeeded" }), N + 2);
});

M(`queue depth per capability is capped at ${MAX_LABEL_VALUES} capabilities, the rest counted as ${OTHER_LABEL}`, async () => {
  // The node goes away: jobs for it wait in the queue, one per capability, forty capabilities.
  await ctx.node?.close();
  ctx.node = undefined;
  await scrapeUntil((x) => value(x, "tether_nodes_connected") === 0, "the node gone");
  const target = { kind: "socket" as const, dataDir: ctx.d.dataDir };
  const n = MAX_LABEL_VALUES + 8;
  for (let i = 0; i < n; i++) {
    const j = await rpc<{ id: string; state: string }>("Orchestrator", target, "Dispatch", {
      deviceId: ctx.device,
      capability: `cap-${String(i).padStart(2, "0")}`,
      input: Buffer.from("{}"),
      timeoutMs: 600_000,
      idempotencyKey: "",
    });
    assert.is(j.state, "queued");
    ctx.ids.push(j.id);
  }
  const s = await scrape();
  const depth = s.filter((x) => x.name === "tether_job_queue_depth");
  const named = depth.filter((x) => x.labels.capability !== OTHER_LABEL);
  assert.is(named.length, MAX_LABEL_VALUES, `${MAX_LABEL_VALUES} capabilities have their own series: ${named.map((x) => x.labels.capability).join(" ")}`);
  assert.ok(
    named.some((x) => x.labels.capability === "hold"),
    "the first capability seen kept its series",
  );
  const other = value(s, "tether_job_queue_depth", { capability: OTHER_LABEL }) as number;
  assert.is(other, n - (MAX_LABEL_VALUES - 1), "the capabilities past the cap are summed in _other");
  assert.is(
    depth.reduce((t, x) => t + x.value, 0),
    n,
    "every queued job is counted once",
  );
  assert.is(value(s, "tether_jobs_open", { state: "queued" }), n);
});

M(`refusal reasons are capped at ${MAX_LABEL_VALUES} per stage; LabelCap keeps the first values and refuses odd ones`, async () => {
  const cap = new LabelCap(3);
  assert.equal(
    ["a", "b", "a", "c", "d", "b"].map((v) => cap.of(v)),
    ["a", "b", "a", "c", OTHER_LABEL, "b"],
  );
  assert.equal([...cap.values()], ["a", "b", "c"]);
  const odd = new LabelCap();
  for (const v of ["", "has space", 'quo"te', "new\nline", "x".repeat(65), "_leading"]) assert.is(odd.of(v), OTHER_LABEL, JSON.stringify(v));
  assert.equal([...odd.values()], [], "an odd value takes no place under the cap");

  const m = new DaemonMetrics({ version: "test", readiness: () => ({ ready: true, reason: "ok" }) });
  for (let i = 0; i < MAX_LABEL_VALUES + 8; i++) {
    m.handshakeRefused("pairing", `REASON_${i}`);
    m.handshakeRefused("pairing", `REASON_${i}`);
  }
  m.handshakeRefused("tls", "tls_error");
  const s = parse(await m.text());
  const pairing = s.filter((x) => x.name === "tether_handshakes_refused_total" && x.labels.stage === "pairing");
  assert.is(pairing.length, MAX_LABEL_VALUES + 1);
  assert.is(value(s, "tether_handshakes_refused_total", { stage: "pairing", reason: "REASON_0" }), 2);
  assert.is(value(s, "tether_handshakes_refused_total", { stage: "pairing", reason: OTHER_LABEL }), 16);
  assert.is(value(s, "tether_handshakes_refused_total", { stage: "tls", reason: "tls_error" }), 1, "each stage has its own cap");
  assert.is(value(s, "tether_ready"), 1);
  assert.is(value(s, "tether_nodes_connected"), undefined, "nothing read before the daemon's state is attached");
});

M("a revocation: the counter, the devices, the CRL, and the revoked certificate refused on Node.Connect", async () => {
  let s = await scrape();
  const crl0 = value(s, "tether_crl_number") as number;
  assert.ok(crl0 > 0);
  assert.is(value(s, "tether_revocations_total"), 0);
  assert.is(value(s, "tether_crl_revoked_certificates"), 0);
  const failed0 = value(s, "tether_jobs_finished_total", { state: "failed" }) as number;
  await admin(ctx.d, "RevokeDevice", { id: ctx.device, reason: "metrics test" });
  s = await scrapeUntil((x) => (value(x, "tether_crl_number") as number) > crl0, "a new CRL");
  assert.is(value(s, "tether_revocations_total"), 1);
  assert.is(value(s, "tether_audit_entries_total", { type: "device.revoked" }), 1);
  assert.is(value(s, "tether_devices", { state: "revoked" }), 1);
  assert.is(value(s, "tether_devices", { state: "active" }), 0);
  assert.ok((value(s, "tether_crl_revoked_certificates") as number) >= 1);
  assert.is(value(s, "tether_certificate_expiry_seconds", { certificate: "device" }), undefined, "a revoked device's certificate is not the soonest");
  // its queued jobs failed with it
  s = await scrapeUntil((x) => value(x, "tether_jobs_finished_total", { state: "failed" }) === failed0 + MAX_LABEL_VALUES + 8, "the revoked device's jobs failed");
  assert.is(value(s, "tether_jobs_open", { state: "queued" }), 0);

  const before = value(s, "tether_handshakes_refused_total", { stage: "node", reason: "CERT_NOT_CURRENT" }) ?? 0;
  const raw = await rawNodeStream(ctx.d.listen, ctx.nodeDir);
  const end = await streamEnd(raw.stream);
  raw.close();
  assert.is(end.code, status.UNAUTHENTICATED);
  s = await scrape();
  assert.is(value(s, "tether_handshakes_refused_total", { stage: "node", reason: "CERT_NOT_CURRENT" }), before + 1);
});

M("no label value carries an id, an address or a code; label names come from a fixed set", async () => {
  await scrape();
  const allowedNames = new Set(["state", "result", "stage", "reason", "capability", "certificate", "durable", "type", "version", "le", "quantile"]);
  // prom-client's process and Node.js metrics
  const processNames = new Set(["kind", "space", "type", "version", "major", "minor", "patch", "le"]);
  const bad: string[] = [];
  for (const x of ctx.seen) {
    for (const [k, v] of Object.entries(x.labels)) {
      const ours = x.name.startsWith("tether_");
      if (!(ours ? allowedNames : processNames).has(k)) bad.push(`${x.name}: label ${k}`);
      if (/\b(dev|job|req|hs|code|pre)_[0-9a-z]{6,}/.test(v)) bad.push(`${x.name}{${k}="${v}"}: looks like an id`);
      if (/\d{1,3}(\.\d{1,3}){3}|\[?[0-9a-f]*:[0-9a-f:]+\]?|:\d{2,5}\b|localhost/i.test(v)) bad.push(`${x.name}{${k}="${v}"}: looks like an address`);
      if (ctx.ids.some((id) => v.includes(id))) bad.push(`${x.name}{${k}="${v}"}: an id of this test`);
      if (v.length > 64) bad.push(`${x.name}{${k}}: ${v.length} characters`);
    }
  }
  assert.equal([...new Set(bad)], []);
  assert.ok(ctx.ids.length > MAX_LABEL_VALUES, `checked against ${ctx.ids.length} ids`);
  const families = new Set(ctx.seen.map((x) => x.family));
  for (const f of ["process_cpu_seconds", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes"])
    assert.ok(families.has(f), `process metric ${f}`);
});

M("promtool check metrics finds nothing wrong with tether's metrics (names, units, _total)", async () => {
  const r = await http(ctx.d.metrics as string, "GET", "/metrics");
  const lint = spawnSync("promtool", ["check", "metrics"], { input: r.body, encoding: "utf8" });
  if (lint.error) throw new Error(`promtool not found (Debian's prometheus; test/ensure-tools.sh): ${lint.error.message}`);
  const problems = `${lint.stdout}${lint.stderr}`.split("\n").filter((l) => l.trim());
  // prom-client's own Node.js gauges are named *_total; ours must raise nothing.
  const ours = problems.filter((l) => !/^nodejs_/.test(l));
  assert.equal(ours, [], ours.join("\n"));
});

M("contrib/prometheus/alerts.yml passes promtool check rules; alerts and the Grafana dashboard name only exported metrics", async () => {
  const alerts = join(ROOT, "contrib", "prometheus", "alerts.yml");
  const check = spawnSync("promtool", ["check", "rules", alerts], { encoding: "utf8" });
  if (check.error) throw new Error(`promtool not found (Debian's prometheus; test/ensure-tools.sh): ${check.error.message}`);
  assert.is(check.status, 0, `${check.stdout}${check.stderr}`);
  assert.match(check.stdout, /SUCCESS: \d+ rules found/);
  const exported = new Set<string>();
  for (const x of ctx.seen) exported.add(x.name).add(x.family);
  const names = (expr: string) => [...expr.matchAll(/\b((?:tether|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1] as string);
  const rules = JSON.parse(execFileSync(PY, ["-c", "import sys, yaml, json; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", alerts], { encoding: "utf8" })) as {
    groups: { rules: { alert: string; expr: string; annotations: { summary: string; description: string } }[] }[];
  };
  const all = rules.groups.flatMap((g) => g.rules);
  const wanted = ["TetherCertificateExpiring", "TetherNotReady", "TetherDown", "TetherPairingRequestWaiting", "TetherJobsFailing", "TetherHandshakesRefused"];
  for (const a of wanted)
    assert.ok(
      all.some((r) => r.alert === a),
      `alert ${a}`,
    );
  for (const r of all) {
    assert.ok(r.annotations.summary && r.annotations.description, `${r.alert} says what and what to do`);
    for (const n of names(r.expr)) assert.ok(exported.has(n), `${r.alert}: ${n} is exported`);
  }

  const dash = JSON.parse(readFileSync(join(ROOT, "contrib", "grafana", "tether.json"), "utf8")) as {
    title: string;
    uid: string;
    schemaVersion: number;
    templating: { list: { name: string; type: string; query: unknown }[] };
    panels: { id: number; type: string; title: string; datasource?: { uid: string }; targets?: { expr: string; datasource: { uid: string } }[] }[];
  };
  assert.ok(dash.title && dash.uid && dash.schemaVersion >= 30);
  const dsVar = dash.templating.list.find((v) => v.type === "datasource");
  assert.ok(dsVar && dsVar.query === "prometheus", "a Prometheus data source variable");
  const ids = dash.panels.map((p) => p.id);
  assert.is(new Set(ids).size, ids.length, "panel ids are unique");
  const used = new Set<string>();
  for (const p of dash.panels.filter((x) => x.type !== "row")) {
    assert.ok(p.targets?.length, `${p.title} has queries`);
    assert.is(p.datasource?.uid, `\${${dsVar.name}}`, `${p.title} uses the data source variable`);
    for (const t of p.targets ?? []) {
      assert.is(t.datasource.uid, `\${${dsVar.name}}`);
      for (const n of names(t.expr)) {
        assert.ok(exported.has(n), `${p.title}: ${n} is exported`);
        used.add(n);
      }
    }
  }
  for (const n of [
    "tether_nodes_connected",
    "tether_pairing_requests_pending",
    "tether_job_duration_seconds_bucket",
    "tether_job_queue_depth",
    "tether_handshakes_refused_total",
    "tether_certificate_expiry_seconds",
    "tether_store_write_duration_seconds_bucket",
  ]) {
    assert.ok(used.has(n), `the dashboard shows ${n}`);
  }
});

M("the ready line names the metrics address (human and --json); a bad --metrics is a usage error; a taken port stops the start", async () => {
  const data = join(ctx.tmp.path, "proc");
  const { d, ready } = await startDaemonProcess(data, ["--metrics", "127.0.0.1:0"]);
  try {
    assert.match(ready.metrics ?? "", /^127\.0\.0\.1:\d+$/);
    assert.is((await http(ready.metrics as string, "GET", "/readyz")).status, 200);
  } finally {
    await stopDaemonProcess(d);
  }
  const human = spawnCli(["daemon", "--data-dir", data, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
  try {
    const line = await waitFor(
      () => /metrics: +http:\/\/127\.0\.0\.1:(\d+)\/metrics \(and \/healthz, \/readyz\)/.exec(human.out()) ?? (human.child.exitCode !== null ? "exited" : undefined),
      `the human ready lines (${human.err()})`,
    );
    assert.ok(line !== "exited", human.err());
    assert.is((await http(`127.0.0.1:${(line as RegExpExecArray)[1]}`, "GET", "/healthz")).status, 200);
  } finally {
    await stopDaemonProcess(human);
  }

  const other = join(ctx.tmp.path, "other");
  for (const bad of ["nope", "", "127.0.0.1:99999", "127.0.0.1"]) {
    const r = await cliInProcess(["daemon", "--data-dir", other, "--metrics", bad]);
    assert.is(r.code, 2, `--metrics ${JSON.stringify(bad)}: ${r.stderr}`);
    assert.match(r.stderr, /--metrics must be HOST:PORT/);
  }
  assert.not.ok(existsSync(join(other, "store")), "nothing was written");
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
  try {
    const port = (busy.address() as AddressInfo).port;
    const r = await cliInProcess(["daemon", "--data-dir", other, "--listen", "127.0.0.1:0", "--metrics", `127.0.0.1:${port}`]);
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    assert.not.ok(existsSync(join(other, "admin.sock")), "the daemon did not stay up");
  } finally {
    busy.close();
  }
});

M("the warning about a metrics address off loopback: only 127.0.0.0/8, ::1 and localhost count as loopback", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) assert.ok(isLoopback(h), h);
  for (const h of ["0.0.0.0", "::", "192.0.2.1", "10.0.0.1", "128.0.0.1", "::ffff:127.0.0.1x", "localhost.example", "fe80::1"]) assert.not.ok(isLoopback(h), h);
});

// Last: it leaves the daemon refusing every call.
M("a failed store write: /readyz answers 503 with the reason, tether_ready is 0, /healthz stays 200", async () => {
  const addr = ctx.d.metrics as string;
  writeFileSync(ctx.fault, "");
  await mintCode(ctx.d).then(
    () => assert.unreachable("the write succeeded"),
    () => undefined,
  );
  await waitFor(() => ctx.d.logs.some((l) => l.includes("store write failed")), "the failed write logged");
  const r = await http(addr, "GET", "/readyz");
  assert.is(r.status, 503);
  // readiness.ts's reason, the one the health service gives: one line
  assert.match(r.body, /^not ready: a store write failed: the daemon refuses calls until it is restarted \(tether status says why\)\n$/);
  assert.is((await http(addr, "GET", "/healthz")).status, 200);
  const s = await scrape();
  assert.is(value(s, "tether_ready"), 0);
});

M.run();
