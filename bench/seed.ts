/**
 * Seeding for the benchmarks: paired devices and finished jobs written straight into a data
 * directory while no daemon runs, exactly as the pairing manager's approval and the job queue
 * would have written them, so that 10,000 or 100,000 devices take seconds instead of the hours
 * that real handshakes would.
 *
 * - One CA per run: the daemon itself creates it (a first start in a template directory), and
 *   every benchmark's data directory gets a copy of that `ca/` folder.
 * - One pool of device identities per run, grown on demand and shared by the benchmarks: an
 *   Ed25519 identity key (the device id derives from it as in pairing), a P-256 TLS key and a
 *   client certificate from the CA. Certificates come from `CertificateAuthority.issueNodeCert`;
 *   when that is too slow for the pool's size within the time budget
 *   (BENCH_CA_API_BUDGET_MS, default 30 s), the rest are made by re-signing the CA's own
 *   output with the CA key: the first certificate from the API is the template, and the copy is
 *   checked once to be byte-identical (to-be-signed part) to one the API issued for another
 *   device, key and serial at the same time. So they are the certificates the daemon would issue.
 * - Stores are written through @tether/store in unsynced batches; each device gets its approved
 *   request record and its device record (as `approve` writes them), jobs their per-device
 *   index entry, and the store the bookkeeping records saying its indexes are complete. The
 *   audit log entries that approval also appends are not written (the daemon does not read
 *   them at start). The record builders (pairedDeviceOps, finishedJobOps) are exported:
 *   bench/replicas.ts writes the same records into PostgreSQL by COPY.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { cpSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AUDIT_TABLES } from "@tether/audit";
import { CertificateAuthority, certFingerprint, derToPem, pemToDer } from "@tether/ca";
import { deviceIdFromIdentityKey } from "@tether/crypto";
import { JOB_TABLES } from "@tether/jobs";
import type { JobRecord } from "@tether/jobs";
import { PAIRING_TABLES } from "@tether/pairing";
import type { DeviceRecord, RequestRecord } from "@tether/pairing";
import { Store } from "@tether/store";
import type { Op, Schema } from "@tether/store";
import { onExit, startDaemonProcess, tempDir } from "./harness.ts";

export const STORE_TABLES = [...PAIRING_TABLES, ...JOB_TABLES, ...AUDIT_TABLES] as const;
const BATCH = 5000;

export type PoolDevice = {
  id: string;
  identityKeyHex: string;
  spkiDer: Buffer;
  certDer: Buffer;
  fingerprint: string;
  serialHex: string;
  notAfter: number;
  tlsKey: KeyObject;
};

/** What a client process needs to connect as a device. */
export type DeviceCreds = { id: string; certPem: string; keyPem: string };

export type Pool = {
  /** a data directory with only `ca/` in it: copy it with {@link prepareDataDir} */
  templateDir: string;
  caPem: string;
  devices: PoolDevice[];
  now: number;
  viaApi: number;
  apiMsEach: number;
  viaTemplate: number;
  /** one line for a benchmark's notes */
  describe(): string;
};

let pool: Pool | undefined;
let ca: CertificateAuthority | undefined;
let caKey: KeyObject | undefined;
let template: CertTemplate | undefined | null; // null: the copy did not check out, API only

const random = (n: number) => new Uint8Array(randomBytes(n));

/** The run's pool with at least `n` devices (created, or grown, on first need). */
export async function devicePool(n: number, log: (s: string) => void = () => undefined): Promise<Pool> {
  if (!pool) {
    const t0 = performance.now();
    const dir = tempDir("tether-bench-ca-");
    onExit(() => dir.remove());
    const data = join(dir.path, "data");
    // The daemon makes its own CA, server and signer certificates and token key.
    const d = await startDaemonProcess(data);
    await d.stop();
    const caPem = readFileSync(join(data, "ca", "ca.pem"), "utf8");
    const keyPem = readFileSync(join(data, "ca", "ca.key"), "utf8");
    ca = await CertificateAuthority.load({ certDer: pemToDer(caPem), keyPkcs8Der: pemToDer(keyPem) });
    caKey = createPrivateKey(keyPem);
    const tmpl = join(dir.path, "template");
    mkdirSync(tmpl, { mode: 0o700 });
    cpSync(join(data, "ca"), join(tmpl, "ca"), { recursive: true });
    let viaApi = 0;
    let viaTemplate = 0;
    let apiMs = 0;
    pool = {
      templateDir: tmpl,
      caPem,
      devices: [],
      // certificates are issued with one `now` (a fleet paired in the same second)
      now: Date.now(),
      get viaApi() {
        return viaApi;
      },
      get viaTemplate() {
        return viaTemplate;
      },
      get apiMsEach() {
        return viaApi ? apiMs / viaApi : Number.NaN;
      },
      describe() {
        return `device pool: ${this.devices.length} identities; certificates: ${viaApi} from CertificateAuthority.issueNodeCert (${this.apiMsEach.toFixed(2)} ms each)${
          viaTemplate ? `, ${viaTemplate} by re-signing the CA's template (checked identical to the API's output; the API would have taken too long for the budget)` : ""
        }; the pool is made once per run and shared by the benchmarks`;
      },
    } as Pool;
    const grow = async (count: number, budgetMs: number) => {
      const p = pool as Pool;
      const target = p.devices.length + count;
      const apiBudgetMs = apiMs + budgetMs;
      while (p.devices.length < target) {
        const keys = newKeys();
        // the API, unless issuing the rest through it would overrun the budget
        const useApi = template === null || template === undefined || viaApi < 100 || apiMs + (apiMs / viaApi) * (target - p.devices.length) <= apiBudgetMs;
        if (useApi) {
          const t = performance.now();
          const c = await (ca as CertificateAuthority).issueNodeCert({ deviceId: keys.id, publicKeySpkiDer: new Uint8Array(keys.spkiDer), now: p.now, randomBytes: random });
          apiMs += performance.now() - t;
          viaApi++;
          p.devices.push({ ...keys, certDer: Buffer.from(c.certDer), fingerprint: c.fingerprint, serialHex: c.serialHex, notAfter: c.notAfter });
          if (template === undefined && p.devices.length >= 2) template = makeTemplate(p.devices[0] as PoolDevice, p.devices[1] as PoolDevice, log);
        } else {
          const t = template as CertTemplate;
          const serial = randomBytes(16);
          serial[0] = ((serial[0] as number) & 0x7f) | 0x40; // as the CA draws serials
          const certDer = t.issue(keys.id, keys.spkiDer, serial, caKey as KeyObject);
          viaTemplate++;
          p.devices.push({ ...keys, certDer, fingerprint: certFingerprint(certDer), serialHex: serial.toString("hex"), notAfter: t.notAfter });
        }
      }
    };
    (pool as Pool & { grow: typeof grow }).grow = grow;
    log(`CA ready in ${(performance.now() - t0).toFixed(0)} ms`);
  }
  const p = pool as Pool & { grow(count: number, budgetMs: number): Promise<void> };
  if (p.devices.length < n) {
    const t0 = performance.now();
    const want = n - p.devices.length;
    await p.grow(want, Number(process.env.BENCH_CA_API_BUDGET_MS ?? 30_000));
    log(
      `device pool: +${want} identities in ${((performance.now() - t0) / 1000).toFixed(1)} s (${p.viaApi} via the CA API at ${p.apiMsEach.toFixed(2)} ms each, ${p.viaTemplate} re-signed)`,
    );
  }
  return p;
}

function newKeys(): { id: string; identityKeyHex: string; spkiDer: Buffer; tlsKey: KeyObject } {
  // (not the JWK export, which is cheaper but hangs after some thousands of calls in Node 20.20)
  const ed = generateKeyPairSync("ed25519");
  const identityKey = new Uint8Array((ed.publicKey.export({ type: "spki", format: "der" }) as Buffer).subarray(-32));
  const tls = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return {
    id: deviceIdFromIdentityKey(identityKey),
    identityKeyHex: Buffer.from(identityKey).toString("hex"),
    spkiDer: tls.publicKey.export({ type: "spki", format: "der" }) as Buffer,
    tlsKey: tls.privateKey,
  };
}

/** PEM credentials of pool devices, for client processes. */
export function credsOf(devices: readonly PoolDevice[]): DeviceCreds[] {
  return devices.map((d) => ({
    id: d.id,
    certPem: derToPem(d.certDer, "CERTIFICATE"),
    keyPem: d.tlsKey.export({ type: "pkcs8", format: "pem" }) as string,
  }));
}

// ---------------------------------------------------------------------------------------------
// Certificates by template: the CA's own output with the device-specific fields replaced.

type CertTemplate = { issue(deviceId: string, spkiDer: Buffer, serial: Buffer, key: KeyObject): Buffer; notAfter: number };

/** DER: [header length, content length] of the TLV at `off`. */
function tlv(buf: Buffer, off: number): { hdr: number; len: number } {
  const b = buf[off + 1] as number;
  if (b < 0x80) return { hdr: 2, len: b };
  const n = b & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (buf[off + 2 + i] as number);
  return { hdr: 2 + n, len };
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** tbsCertificate, signatureAlgorithm (both full TLVs) of a certificate. */
function cutCert(der: Buffer): { tbs: Buffer; alg: Buffer } {
  const outer = tlv(der, 0);
  const tbsAt = outer.hdr;
  const t = tlv(der, tbsAt);
  const tbs = der.subarray(tbsAt, tbsAt + t.hdr + t.len);
  const algAt = tbsAt + tbs.length;
  const a = tlv(der, algAt);
  return { tbs, alg: der.subarray(algAt, algAt + a.hdr + a.len) };
}

function allIndexes(hay: Buffer, needle: Buffer): number[] {
  const out: number[] = [];
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) out.push(i);
  return out;
}

function skiCandidates(spkiDer: Buffer): Buffer[] {
  const point = spkiDer.subarray(-65);
  return [
    createHash("sha1").update(point).digest(),
    createHash("sha1").update(spkiDer).digest(),
    createHash("sha256").update(point).digest().subarray(0, 20),
    createHash("sha256").update(spkiDer).digest().subarray(0, 20),
  ];
}

/**
 * Learn where a certificate from the CA API keeps the device id, serial, key and key id; then
 * check that the copy made for device `b` equals the API's certificate for `b` (same `now`).
 */
function makeTemplate(a: PoolDevice, b: PoolDevice, log: (s: string) => void): CertTemplate | null {
  try {
    const { tbs, alg } = cutCert(a.certDer);
    const idAt = allIndexes(tbs, Buffer.from(a.id, "latin1"));
    const serialAt = allIndexes(tbs, Buffer.from(a.serialHex, "hex"));
    const spkiAt = allIndexes(tbs, a.spkiDer);
    const skiIdx = skiCandidates(a.spkiDer).findIndex((c) => allIndexes(tbs, c).length === 1);
    if (idAt.length === 0 || serialAt.length !== 1 || spkiAt.length !== 1 || skiIdx < 0) throw new Error("fields not found");
    const skiAt = allIndexes(tbs, skiCandidates(a.spkiDer)[skiIdx] as Buffer)[0] as number;
    const notAfter = Date.parse(new X509Certificate(a.certDer).validTo);
    const t: CertTemplate = {
      notAfter,
      issue(deviceId, spkiDer, serial, key) {
        if (deviceId.length !== a.id.length || spkiDer.length !== a.spkiDer.length) throw new Error("field length differs from the template");
        const out = Buffer.from(tbs);
        for (const i of idAt) out.write(deviceId, i, "latin1");
        serial.copy(out, serialAt[0] as number);
        spkiDer.copy(out, spkiAt[0] as number);
        (skiCandidates(spkiDer)[skiIdx] as Buffer).copy(out, skiAt);
        const sig = Buffer.concat([Buffer.from([0]), sign("sha256", out, key)]);
        const bits = Buffer.concat([Buffer.from([0x03]), derLength(sig.length), sig]);
        const body = Buffer.concat([out, alg, bits]);
        return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
      },
    };
    // The check: b's certificate from the API, re-made from a's.
    const copy = t.issue(b.id, b.spkiDer, Buffer.from(b.serialHex, "hex"), caKey as KeyObject);
    const same = cutCert(copy).tbs.equals(cutCert(b.certDer).tbs);
    const verifies = new X509Certificate(copy).verify(new X509Certificate((pool as Pool).caPem).publicKey);
    if (!same || !verifies) throw new Error(`copy differs from the API's certificate (tbs equal: ${same}, signature verifies: ${verifies})`);
    return t;
  } catch (err) {
    log(`certificate template unusable (${(err as Error).message}); every certificate comes from the CA API`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Data directories and stores.

/** A fresh data directory with the run's CA (no store yet). */
export function prepareDataDir(p: Pool, dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  cpSync(join(p.templateDir, "ca"), join(dataDir, "ca"), { recursive: true });
}

export type Tables = Schema & { devices: DeviceRecord; requests: RequestRecord; jobs: JobRecord };

/**
 * The bookkeeping records a store written by the current daemon has: the pending-request index,
 * the open-job index and the owner index are complete (else the daemon's first start would build them by
 * reading every request and every job). Written only for tables the packages declare.
 */
function metaOps(now: number): Op<Tables>[] {
  const ops: Op<Tables>[] = [];
  const tables = STORE_TABLES as readonly string[];
  if (tables.includes("pairingMeta")) ops.push({ table: "pairingMeta", type: "put", value: { id: "pendingIndex", at: now } } as never);
  if (tables.includes("jobsMeta")) ops.push({ table: "jobsMeta", type: "put", value: { id: "openIndex", at: now } } as never);
  if (tables.includes("ownerJobs")) ops.push({ table: "jobsMeta", type: "put", value: { id: "ownerIndex", at: now } } as never);
  return ops;
}

async function withStore<T>(dataDir: string, fn: (s: Store<Tables>) => Promise<T>): Promise<T> {
  const s = await Store.open<Tables>(join(dataDir, "store"), STORE_TABLES as unknown as (keyof Tables)[]);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

const hex = (n: number) => randomBytes(n).toString("hex");

/**
 * Pool device `j` as an approved, paired device with role `r`: its request and device records,
 * as PairingManager.approve writes them, as put ops.
 */
export function pairedDeviceOps(p: Pool, j: number, r: string): (Op<Tables> & { type: "put" })[] {
  const d = p.devices[j] as PoolDevice;
  const certificate = d.certDer.toString("base64");
  const requestId = `req_${hex(12)}`;
  const created = p.now - 60_000;
  const request: RequestRecord = {
    id: requestId,
    state: "approved",
    deviceId: d.id,
    name: `bench-${j}`,
    requestedRole: r,
    role: r,
    identityKey: d.identityKeyHex,
    tlsPublicKey: d.spkiDer.toString("base64"),
    verificationCode: `${String(j % 1000).padStart(3, "0")}-${String((j * 7) % 1000).padStart(3, "0")}`,
    method: "pin",
    codeId: `code_${hex(12)}`,
    createdAt: created,
    expiresAt: created + 15 * 60_000,
    decidedAt: p.now,
    certificate,
    certificateFingerprint: d.fingerprint,
  };
  const device: DeviceRecord = {
    id: d.id,
    name: `bench-${j}`,
    role: r,
    identityKey: d.identityKeyHex,
    certificate,
    certificateFingerprint: d.fingerprint,
    certificateSerial: d.serialHex,
    certificateNotAfter: d.notAfter,
    pairedAt: p.now,
    requestId,
    // announced at an earlier registration, so that jobs can be dispatched before it connects
    capabilities: [{ name: "echo" }],
    platform: "linux-x64",
    version: "bench",
    lastSeen: p.now,
  };
  return [
    { table: "requests", type: "put", value: request },
    { table: "devices", type: "put", value: device },
  ];
}

/**
 * Write devices `from..to` of the pool as approved, paired devices ({@link pairedDeviceOps}).
 * `role(i)` gives each one's role (default node).
 */
export async function seedDevices(p: Pool, dataDir: string, from: number, to: number, role: (i: number) => string = () => "node"): Promise<number> {
  const t0 = performance.now();
  await withStore(dataDir, async (s) => {
    await s.batch(metaOps(p.now), { sync: false });
    for (let i = from; i < to; i += BATCH) {
      const ops: Op<Tables>[] = [];
      for (let j = i; j < Math.min(to, i + BATCH); j++) ops.push(...pairedDeviceOps(p, j, role(j)));
      await s.batch(ops, { sync: false });
    }
  });
  return performance.now() - t0;
}

const PER_DEVICE = (STORE_TABLES as readonly string[]).includes("deviceJobs");
const PER_OWNER = (STORE_TABLES as readonly string[]).includes("ownerJobs");

/**
 * Finished job number `j` of `count` (succeeded, with some failed, timed out and cancelled) on
 * pool device `j % devices`, as the job queue writes it: the job and its per-device and
 * per-dispatcher index entries (finished jobs have no open-job entry), as put ops. Its id is
 * time-ordered (created over the last day before the pool's `now`, so within the daemon's
 * retention) with `rand12`, 12 hex digits, as its random part.
 */
export function finishedJobOps(p: Pool, j: number, count: number, devices: number, rand12: string): (Op<Tables> & { type: "put" })[] {
  const created = p.now - 86_400_000 + Math.floor((j / count) * 86_000_000);
  const r = j % 100;
  const state = r < 90 ? "succeeded" : r < 95 ? "failed" : r < 98 ? "timed_out" : "cancelled";
  const deviceId = (p.devices[j % devices] as PoolDevice).id;
  const job: JobRecord = {
    id: `job_${created.toString(16).padStart(12, "0").slice(-12)}${rand12}`,
    deviceId,
    capability: "echo",
    state,
    input: `{"n":${j},"payload":"${"x".repeat(40)}"}`,
    ...(state === "succeeded" ? { output: `{"n":${j},"ok":true}` } : {}),
    ...(state === "failed"
      ? { error: "exit code 1" }
      : state === "timed_out"
        ? { error: "deadline passed before a result arrived" }
        : state === "cancelled"
          ? { error: "cancelled by admin" }
          : {}),
    createdAt: created,
    deadline: created + 60_000,
    updatedAt: created + 40,
    attempts: 1,
    dispatchedBy: "admin",
  };
  const ops: (Op<Tables> & { type: "put" })[] = [{ table: "jobs", type: "put", value: job }];
  if (PER_DEVICE) ops.push({ table: "deviceJobs", type: "put", value: { id: `${deviceId}/${job.id}`, jobId: job.id } } as never);
  if (PER_OWNER) ops.push({ table: "ownerJobs", type: "put", value: { id: `admin/${job.id}`, jobId: job.id } } as never);
  return ops;
}
/**
 * Write `count` finished jobs ({@link finishedJobOps}) spread over pool devices `0..devices`,
 * in unsynced batches of 10,000 built in memory, then the bookkeeping records.
 */
export async function seedFinishedJobs(p: Pool, dataDir: string, count: number, devices: number, log: (s: string) => void = () => undefined): Promise<number> {
  const t0 = performance.now();
  await withStore(dataDir, async (s) => {
    for (let i = 0; i < count; i += 10_000) {
      const ops: Op<Tables>[] = [];
      const rnd = randomBytes(6 * 10_000).toString("hex");
      for (let j = i; j < Math.min(count, i + 10_000); j++) {
        const k = j - i;
        ops.push(...finishedJobOps(p, j, count, devices, rnd.slice(k * 12, k * 12 + 12)));
      }
      await s.batch(ops, { sync: false });
      if ((i / 10_000) % 25 === 24) log(`  ${i + 10_000} jobs written`);
    }
    await s.batch(metaOps(p.now), { sync: false });
  });
  return performance.now() - t0;
}
