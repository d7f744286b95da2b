/**
 * Every constant the documents quote (lifetimes, limits, windows) is read from the document
 * and from the code, and the two must agree: a change to either that forgets the other fails
 * here. A quoted line that no longer matches its pattern fails too (the table below then
 * needs the document's new wording).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CLOCK_SKEW_BACKDATE_MS, DEFAULT_CA_LIFETIME_MS, DEFAULT_NODE_CERT_LIFETIME_MS } from "../packages/ca/src/defaults.ts";
import { NAME_MAX_BYTES, TOKEN_DEFAULT_TTL_MS, TOKEN_MAX_TTL_MS } from "@tether/crypto";
import {
  DEFAULT_CODE_TTL_MS,
  DEFAULT_REQUEST_TTL_MS,
  MAX_ACTIVE_CODES,
  MAX_CODE_ATTEMPTS,
  MAX_CODE_TTL_MS,
  MAX_SESSIONS,
  MIN_CODE_TTL_MS,
  SESSION_TTL_MS,
  SIGNED_TIMESTAMP_WINDOW_MS,
} from "../packages/pairing/src/config.ts";
import { MAX_JOB_RETENTION_MS, MAX_NODE_CERT_LIFETIME_MS, MIN_NODE_CERT_LIFETIME_MS } from "../packages/daemon/src/config.ts";
import { HEARTBEAT_MS, IDLE_TIMEOUT_MS, MAX_CAPABILITIES, REGISTRATION_TIMEOUT_MS } from "../packages/daemon/src/hub.ts";
import { RENEWAL_OVERLAP_MS } from "../packages/daemon/src/auth.ts";
import { CRL_REFRESH_MS, CRL_VALIDITY_MS } from "../packages/daemon/src/crl.ts";
import {
  DEADLINE_GRACE_MS,
  DEFAULT_FINISHED_RETENTION_MS,
  DEFAULT_JOB_TIMEOUT_MS,
  MAX_ERROR_BYTES,
  MAX_IN_FLIGHT_PER_DEVICE,
  MAX_JOB_INPUT_BYTES,
  MAX_JOB_OUTPUT_BYTES,
  MAX_JOB_TIMEOUT_MS,
  MAX_QUEUED_PER_DEVICE,
  RETENTION_BATCH,
} from "../packages/jobs/src/config.ts";
import { MAX_ADMIN_MESSAGE_BYTES, MAX_NODE_MESSAGE_BYTES } from "@tether/wire";
import { DEFAULT_PNG_SCALE, IMAGE_QUIET_ZONE, MAX_PNG_SCALE, MIN_PNG_SCALE, TERMINAL_QUIET_ZONE } from "../packages/cli/src/qr.ts";
import { DEFAULT_HEALTH_TIMEOUT_MS, HEALTH_RETRY_MS, MAX_HEALTH_TIMEOUT_MS, MAX_HEALTH_WAIT_MS } from "../packages/cli/src/commands/health.ts";
import { MAX_LISTENER_WATCHES, MAX_LISTENER_WATCHES_PER_ADDRESS, PROBE_REFRESH_MS } from "../packages/daemon/src/probes.ts";
import { ROOT } from "./helpers.ts";

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;
const MIB = 1024 * 1024;

/**
 * One quoted passage: capture group i+1 of `pattern` (or the group named third), times its
 * unit, must equal the code's value.
 */
type Quote = { doc: string; what: string; pattern: RegExp; values: [code: number, unit: number, group?: number][] };

const QUOTES: Quote[] = [
  // protocol.md §10, code lifecycle and limits
  {
    doc: "protocol.md",
    what: "code TTL",
    pattern: /\| Code TTL \| default (\d+) s .*?min (\d+) s, max (\d+) s/,
    values: [
      [DEFAULT_CODE_TTL_MS, S],
      [MIN_CODE_TTL_MS, S],
      [MAX_CODE_TTL_MS, S],
    ],
  },
  { doc: "protocol.md", what: "live codes", pattern: /\| Live codes \| at most (\d+) active/, values: [[MAX_ACTIVE_CODES, 1]] },
  { doc: "protocol.md", what: "attempts", pattern: /a code allows at most \*\*(\d+)\*\* `Start`s/, values: [[MAX_CODE_ATTEMPTS, 1]] },
  {
    doc: "protocol.md",
    what: "session",
    pattern: /\| Session \| in memory, (\d+) s from `Start`.*?at most (\d+) open/,
    values: [
      [SESSION_TTL_MS, S],
      [MAX_SESSIONS, 1],
    ],
  },
  { doc: "protocol.md", what: "pending request", pattern: /\| Pending request \| expires (\d+) min after `Finish`/, values: [[DEFAULT_REQUEST_TTL_MS, MIN]] },
  {
    doc: "protocol.md",
    what: "Await clock skew",
    pattern: /\| Await clock skew \| the signed timestamp within ±(\d+) min of the daemon's clock \(([\d ]+) ms/,
    values: [
      [SIGNED_TIMESTAMP_WINDOW_MS, MIN],
      [SIGNED_TIMESTAMP_WINDOW_MS, 1],
    ],
  },
  { doc: "protocol.md", what: "message size", pattern: /\| Message size \| (\d+) MiB on the node listener/, values: [[MAX_NODE_MESSAGE_BYTES, MIB]] },
  {
    doc: "protocol.md",
    what: "message size (§1)",
    pattern: /accepts messages up to \*\*(\d+) MiB\*\* \(([\d ]+) bytes/,
    values: [
      [MAX_NODE_MESSAGE_BYTES, MIB],
      [MAX_NODE_MESSAGE_BYTES, 1],
    ],
  },
  { doc: "protocol.md", what: "name", pattern: /\| `name` \| 1\.\.(\d+) UTF-8 bytes/, values: [[NAME_MAX_BYTES, 1]] },
  // protocol.md §9.2, the node certificate and the CA
  { doc: "protocol.md", what: "node notBefore", pattern: /\| notBefore \| `floor_to_second\(approval time − (\d+) min\)`/, values: [[CLOCK_SKEW_BACKDATE_MS, MIN]] },
  {
    doc: "protocol.md",
    what: "node certificate lifetime",
    pattern: /lifetime default \*\*(\d+) h\*\*, configurable with the daemon's `--cert-lifetime` within (\d+) min\.\.(\d+) d/,
    values: [
      [DEFAULT_NODE_CERT_LIFETIME_MS, H],
      [MIN_NODE_CERT_LIFETIME_MS, MIN],
      [MAX_NODE_CERT_LIFETIME_MS, D],
    ],
  },
  {
    doc: "protocol.md",
    what: "CA lifetime and backdate",
    pattern: /(\d+)-day\) lifetime, notBefore backdated (\d+) min/,
    values: [
      [DEFAULT_CA_LIFETIME_MS, D],
      [CLOCK_SKEW_BACKDATE_MS, MIN],
    ],
  },
  // operations.md, the daemon's flags and the lifetimes table
  {
    doc: "operations.md",
    what: "--cert-lifetime flag",
    pattern: /\| `--cert-lifetime DURATION` \| `(\d+)h` \|.*?from `(\d+)m` to `(\d+)d`/,
    values: [
      [DEFAULT_NODE_CERT_LIFETIME_MS, H],
      [MIN_NODE_CERT_LIFETIME_MS, MIN],
      [MAX_NODE_CERT_LIFETIME_MS, D],
    ],
  },
  {
    doc: "operations.md",
    what: "--job-retention flag",
    pattern: /\| `--job-retention DURATION` \| `(\d+)d` \|.*?to `(\d+)d`/,
    values: [
      [DEFAULT_FINISHED_RETENTION_MS, D],
      [MAX_JOB_RETENTION_MS, D],
    ],
  },
  {
    doc: "operations.md",
    what: "lifetimes: node certificates",
    pattern: /\| node certificates \| (\d+) h \(`--cert-lifetime`, (\d+) min to (\d+) days\)/,
    values: [
      [DEFAULT_NODE_CERT_LIFETIME_MS, H],
      [MIN_NODE_CERT_LIFETIME_MS, MIN],
      [MAX_NODE_CERT_LIFETIME_MS, D],
    ],
  },
  { doc: "operations.md", what: "lifetimes: CRL", pattern: /\| CRL \| (\d+) days \(`nextUpdate`\)/, values: [[CRL_VALIDITY_MS, D]] },
  {
    doc: "operations.md",
    what: "lifetimes: tokens",
    pattern: /\| device tokens \| (\d+) min \(at most (\d+)\)/,
    values: [
      [TOKEN_DEFAULT_TTL_MS, MIN],
      [TOKEN_MAX_TTL_MS, MIN],
    ],
  },
  {
    doc: "operations.md",
    what: "lifetimes: codes",
    pattern: /\| pairing codes \| (\d+) min \((\d+) s to (\d+) h\)/,
    values: [
      [DEFAULT_CODE_TTL_MS, MIN],
      [MIN_CODE_TTL_MS, S],
      [MAX_CODE_TTL_MS, H],
    ],
  },
  { doc: "operations.md", what: "lifetimes: pending requests", pattern: /\| pending requests \| (\d+) min \|/, values: [[DEFAULT_REQUEST_TTL_MS, MIN]] },
  {
    doc: "operations.md",
    what: "QR --scale",
    pattern: /\*\*`--scale N`\*\* \(with `--png`\): pixels per module, a whole number from (\d+) to (\d+), default (\d+)\./,
    values: [
      [MIN_PNG_SCALE, 1],
      [MAX_PNG_SCALE, 1],
      [DEFAULT_PNG_SCALE, 1],
    ],
  },
  {
    doc: "operations.md",
    what: "tether health --timeout and --wait",
    pattern:
      /`--timeout DURATION`: each check's deadline, `500ms`, `5s`, `2m`, … up to `(\d+)m` \(default\s+`(\d+)s`\)\.\s+- `--wait DURATION` \(0 to `(\d+)h`\): check again about every (\d+) ms/,
    values: [
      [MAX_HEALTH_TIMEOUT_MS, MIN],
      [DEFAULT_HEALTH_TIMEOUT_MS, S],
      [MAX_HEALTH_WAIT_MS, H],
      [HEALTH_RETRY_MS, 1],
    ],
  },
  {
    doc: "operations.md",
    what: "listener Watch caps",
    pattern: /On the listener at most (\d+) `Watch` streams may be open from one address, (\d+)\s+in all/,
    values: [
      [MAX_LISTENER_WATCHES_PER_ADDRESS, 1],
      [MAX_LISTENER_WATCHES, 1],
    ],
  },
  {
    doc: "operations.md",
    what: "health refresh",
    pattern: /pushed to `Watch` streams at once \(a certificate's window passing\s+within (a) second\)/,
    values: [[PROBE_REFRESH_MS, S]],
  },
  {
    doc: "operations.md",
    what: "QR quiet zones",
    pattern: /\| terminal \| L \(7 %\) \| (\d+) modules \|[^]*?\| PNG, SVG \| M \(15 %\) \| (\d+) modules/,
    values: [
      [TERMINAL_QUIET_ZONE, 1],
      [IMAGE_QUIET_ZONE, 1],
    ],
  },
  // fleet.md, Appendix A and the sections that quote the same values
  { doc: "fleet.md", what: "registration timeout", pattern: /\| Registration timeout \| ([\d ]+) ms \|/, values: [[REGISTRATION_TIMEOUT_MS, 1]] },
  {
    doc: "fleet.md",
    what: "registration timeout (§2.2)",
    pattern: /within \*\*([\d ]+) ms\*\* of opening the\s+stream \(`REGISTRATION_TIMEOUT_MS`\)/,
    values: [[REGISTRATION_TIMEOUT_MS, 1]],
  },
  { doc: "fleet.md", what: "heartbeat", pattern: /\| `heartbeat_ms` sent to nodes \| ([\d ]+) ms \|/, values: [[HEARTBEAT_MS, 1]] },
  { doc: "fleet.md", what: "idle timeout", pattern: /\| Idle timeout \/ sweep interval \| ([\d ]+) ms \//, values: [[IDLE_TIMEOUT_MS, 1]] },
  { doc: "fleet.md", what: "capabilities", pattern: /\| Capabilities per registration \| (\d+) \|/, values: [[MAX_CAPABILITIES, 1]] },
  {
    doc: "fleet.md",
    what: "message sizes",
    pattern: /\| Message size \| (\d+) MiB listener, (\d+) MiB admin socket \|/,
    values: [
      [MAX_NODE_MESSAGE_BYTES, MIB],
      [MAX_ADMIN_MESSAGE_BYTES, MIB],
    ],
  },
  {
    doc: "fleet.md",
    what: "job timeouts",
    pattern: /\| Default \/ max job timeout \| ([\d ]+) ms \/ ([\d ]+) ms \|/,
    values: [
      [DEFAULT_JOB_TIMEOUT_MS, 1],
      [MAX_JOB_TIMEOUT_MS, 1],
    ],
  },
  {
    doc: "fleet.md",
    what: "input/output size",
    pattern: /\| Input \/ output size \| ([\d ]+) bytes each \|/,
    values: [
      [MAX_JOB_INPUT_BYTES, 1],
      [MAX_JOB_OUTPUT_BYTES, 1, 1],
    ],
  },
  { doc: "fleet.md", what: "queued per device", pattern: /\| Queued jobs per device \| (\d+) \|/, values: [[MAX_QUEUED_PER_DEVICE, 1]] },
  { doc: "fleet.md", what: "in flight per device", pattern: /\| In flight per device \| (\d+) \(/, values: [[MAX_IN_FLIGHT_PER_DEVICE, 1]] },
  { doc: "fleet.md", what: "error kept", pattern: /\| Failure `error` kept \| (\d+) characters \|/, values: [[MAX_ERROR_BYTES, 1]] },
  { doc: "fleet.md", what: "deadline grace", pattern: /within (\d+) s of the job's deadline \(`DEADLINE_GRACE_MS`\)/, values: [[DEADLINE_GRACE_MS, S]] },
  {
    doc: "fleet.md",
    what: "retention",
    pattern: /Finished jobs are kept for \*\*(\d+) days\*\*.*?(\d+) minute to (\d+) days.*?at most (\d+) jobs a batch/s,
    values: [
      [DEFAULT_FINISHED_RETENTION_MS, D],
      [MIN, MIN],
      [MAX_JOB_RETENTION_MS, D],
      [RETENTION_BATCH, 1],
    ],
  },
  {
    doc: "fleet.md",
    what: "CRL validity",
    pattern: /refreshed (daily), and valid for (\d+) days\s+\(`nextUpdate`\)/,
    values: [
      [CRL_REFRESH_MS, D],
      [CRL_VALIDITY_MS, D],
    ],
  },
  {
    doc: "fleet.md",
    what: "renewal overlap",
    pattern: /stays accepted for \*\*(\d+) minutes\*\* after the renewal\s+\(`RENEWAL_OVERLAP_MS`\)/,
    values: [[RENEWAL_OVERLAP_MS, MIN]],
  },
];

const docs = new Map<string, string>();
const read = (name: string) => docs.get(name) ?? docs.set(name, readFileSync(join(ROOT, "docs", name), "utf8")).get(name)!;
/** "10 000" -> 10000; "daily" -> 1 (with the unit of a day); "a" (second) -> 1. */
const number = (s: string) => (s === "daily" || s === "a" ? 1 : Number(s.replace(/ /g, "")));

test("every constant the documents quote equals the code's value", () => {
  const wrong: string[] = [];
  for (const q of QUOTES) {
    const m = q.pattern.exec(read(q.doc));
    if (!m) {
      wrong.push(`${q.doc}: the passage on ${q.what} no longer matches ${q.pattern}`);
      continue;
    }
    q.values.forEach(([code, unit, g], i) => {
      const group = g ?? i + 1;
      const quoted = number(m[group] ?? "");
      if (quoted * unit !== code) wrong.push(`${q.doc}: ${q.what} says ${m[group]} (= ${quoted * unit}), the code has ${code}`);
    });
  }
  assert.equal(wrong, [], wrong.join("\n"));
});

test("the check itself fails on a changed number", () => {
  const q = QUOTES.find((x) => x.what === "attempts") as Quote;
  const m = q.pattern.exec(read(q.doc).replace(/at most \*\*\d+\*\* `Start`s/, "at most **7** `Start`s"));
  assert.ok(m);
  assert.is.not(number(m?.[1] ?? "") * (q.values[0]?.[1] ?? 0), q.values[0]?.[0]);
});

test.run();
