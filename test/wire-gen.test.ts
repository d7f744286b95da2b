/**
 * The wire message types are generated from proto/ (packages/wire/src/gen/, `npm run gen`):
 * the checked-in files must be what the protos produce, an edited proto must make the check
 * fail naming the stale file, and what the runtime loader decodes must have the shape the
 * generated types promise (the same LOAD_OPTIONS drive both). Also a consumer the generated
 * types corrected: a value the hand-copied type had ruled out.
 */
import { spawnSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Server, ServerCredentials, loadPackageDefinition } from "@grpc/grpc-js";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { ADMIN_SOCKET_NAME, PROTO_DIR, tetherPackageDefinition } from "@tether/wire";
import type { Device, NodeInfo, StartResponse, StatusResponse } from "@tether/wire";
import { GENERATED_HEADER, GEN_DIR, check, generatorFlags } from "../packages/wire/scripts/gen-types.ts";
import { LOAD_OPTIONS } from "../packages/wire/src/protos.ts";
import { ROOT, cliInProcess, tempDir } from "./helpers.ts";

const SCRIPT = join(ROOT, "packages/wire/scripts/gen-types.ts");

/** A copy of proto/ in a fresh temporary directory, with `edit` applied to one file. */
function editedProtos(file: string, edit: (text: string) => string): { dir: string; remove(): void } {
  const tmp = tempDir("tether-wire-gen-test-");
  const dir = join(tmp.path, "proto");
  cpSync(PROTO_DIR, dir, { recursive: true });
  const path = join(dir, file);
  const before = readFileSync(path, "utf8");
  const after = edit(before);
  assert.is.not(after, before, `the edit of ${file} changed nothing`);
  writeFileSync(path, after);
  return { dir, remove: () => tmp.remove() };
}

test("the checked-in generated types are what proto/ produces", () => {
  assert.equal(check(), []);
});

test("a field added to a proto makes the check name the stale file, and only it", () => {
  const p = editedProtos("tether/v1/admin.proto", (t) => t.replace("int64 rotation_requested_at = 32;", "int64 rotation_requested_at = 32;\n  string nickname = 99;"));
  try {
    assert.equal(check(GEN_DIR, p.dir), [{ file: "tether/v1/Device.ts", problem: "stale" }]);
  } finally {
    p.remove();
  }
});

test("an edited comment is stale too: the generated files carry the proto's comments", () => {
  const p = editedProtos("tether/v1/orchestrator.proto", (t) => t.replace("// queued | delivered | running", "// queued | delivered | running | paused"));
  try {
    assert.equal(check(GEN_DIR, p.dir), [{ file: "tether/v1/Job.ts", problem: "stale" }]);
  } finally {
    p.remove();
  }
});

test("a message added or removed is named: missing, and no longer generated", () => {
  const p = editedProtos("tether/v1/peer.proto", (t) =>
    t.replace(/message PeerResponse \{[^}]*\}/, "message PeerReply {\n  bytes output = 1;\n}").replace("returns (PeerResponse)", "returns (PeerReply)"),
  );
  try {
    assert.equal(check(GEN_DIR, p.dir), [
      { file: "tether/v1/Peer.ts", problem: "stale" },
      { file: "tether/v1/PeerReply.ts", problem: "missing" },
      { file: "tether/v1/PeerResponse.ts", problem: "not generated" },
    ]);
  } finally {
    p.remove();
  }
});

test("npm run gen:check exits 1 and names the stale file; a hand edit of a generated file is stale too", () => {
  const p = editedProtos("tether/v1/pairing.proto", (t) =>
    t.replace("bytes yb = 2;", "bytes yb = 2;\n  string hint = 6;").replace("reserved 6 to 19;\n}\n\nmessage RevealRequest", "reserved 7 to 19;\n}\n\nmessage RevealRequest"),
  );
  const gen = tempDir("tether-wire-gen-copy-");
  try {
    const stale = spawnSync(process.execPath, ["--import", "tsx", SCRIPT, "--check", "--proto-dir", p.dir], { cwd: ROOT, encoding: "utf8" });
    assert.is(stale.status, 1, stale.stderr);
    assert.match(stale.stderr, /^stale: packages\/wire\/src\/gen\/tether\/v1\/StartResponse\.ts$/m);
    assert.match(stale.stderr, /run `npm run gen`/);

    // the same check of a copy of the checked-in files, one of them edited by hand
    cpSync(GEN_DIR, gen.path, { recursive: true });
    const file = join(gen.path, "tether/v1/Job.ts");
    writeFileSync(file, readFileSync(file, "utf8").replace("'attempts': (number);", "'attempts': (number | undefined);"));
    const edited = spawnSync(process.execPath, ["--import", "tsx", SCRIPT, "--check", "--gen-dir", gen.path], { cwd: ROOT, encoding: "utf8" });
    assert.is(edited.status, 1, edited.stderr);
    assert.match(edited.stderr, /^stale: .*tether\/v1\/Job\.ts$/m);
    assert.not.match(edited.stderr, /Device\.ts/);

    const ok = spawnSync(process.execPath, ["--import", "tsx", SCRIPT, "--check"], { cwd: ROOT, encoding: "utf8" });
    assert.is(ok.status, 0, ok.stderr);
    const bad = spawnSync(process.execPath, ["--import", "tsx", SCRIPT, "--chek"], { cwd: ROOT, encoding: "utf8" });
    assert.is(bad.status, 2);
    assert.match(bad.stderr, /Unknown option '--chek'/);
  } finally {
    p.remove();
    gen.remove();
  }
});

test("npm run gen replaces only a directory of generated files", () => {
  const gen = tempDir("tether-wire-gen-out-");
  try {
    writeFileSync(join(gen.path, "notes.ts"), "// mine\n");
    const r = spawnSync(process.execPath, ["--import", "tsx", SCRIPT, "--gen-dir", gen.path], { cwd: ROOT, encoding: "utf8" });
    assert.is(r.status, 1);
    assert.match(r.stderr, /notes\.ts was not written by gen-types; not replacing/);
    assert.is(readFileSync(join(gen.path, "notes.ts"), "utf8"), "// mine\n");
  } finally {
    gen.remove();
  }
});

test("every generated file says it is generated and by which command", () => {
  const files = readdirSync(GEN_DIR, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
  assert.ok(files.length >= 80, `only ${files.length} generated files`);
  for (const f of files) assert.ok(readFileSync(join(GEN_DIR, f), "utf8").startsWith(`${GENERATED_HEADER}\n// Original file: proto/tether/v1/`), f);
  assert.match(GENERATED_HEADER, /`npm run gen`/);
});

test("the generator's flags are LOAD_OPTIONS, and an option it cannot express is refused", () => {
  assert.equal(generatorFlags(), ["--longs=Number", "--enums=String", "--defaults", "--oneofs"]);
  assert.equal(generatorFlags({ keepCase: false, bytes: String }), ["--bytes=String"]);
  assert.throws(() => generatorFlags({ ...LOAD_OPTIONS, includeDirs: ["x"] }), /LOAD_OPTIONS\.includeDirs: no proto-loader-gen-types flag/);
  assert.throws(() => generatorFlags({ longs: BigInt }), /LOAD_OPTIONS\.longs: expected String, Number or Array/);
});

type Codec = { requestSerialize(v: object): Buffer; requestDeserialize(b: Buffer): unknown; responseSerialize(v: object): Buffer; responseDeserialize(b: Buffer): unknown };
const method = (service: string, name: string) => (tetherPackageDefinition()[`tether.v1.${service}`] as unknown as Record<string, Codec>)[name] as Codec;

test("the loader decodes what the generated types say: defaults filled in, int64 a number, bytes a Buffer, an absent message null", () => {
  const empty = method("Admin", "GetDevice").responseDeserialize(Buffer.alloc(0)) as Device;
  assert.is(empty.id, "");
  assert.is(empty.pairedAt, 0);
  assert.equal(empty.capabilities, []);
  assert.equal({ ...empty.labels }, {});
  assert.is(empty.jobScope, null, "an absent JobScope decodes as null: Device.jobScope is nullable");
  assert.is(empty.rotationPending, false);

  const dev = method("Admin", "GetDevice");
  const round = dev.responseDeserialize(dev.responseSerialize({ id: "dev_x", pairedAt: 1_700_000_000_123, jobScope: { kind: "all" } })) as Device;
  assert.is(typeof round.pairedAt, "number");
  assert.is(round.pairedAt, 1_700_000_000_123);
  assert.equal(round.jobScope && { kind: round.jobScope.kind, labels: { ...round.jobScope.labels } }, { kind: "all", labels: {} });

  const start = method("Pairing", "Start");
  const s = start.responseDeserialize(start.responseSerialize({ sessionId: "s", yb: new Uint8Array([1, 2, 3]) })) as StartResponse;
  assert.ok(Buffer.isBuffer(s.yb), "bytes decode as a Buffer");
  assert.ok(Buffer.isBuffer(s.caCertificate) && s.caCertificate.length === 0, "absent bytes decode as an empty Buffer");
  assert.is(s.sessionExpiresAt, 0);

  const nodes = method("Orchestrator", "ListNodes");
  const list = nodes.responseDeserialize(nodes.responseSerialize({ nodes: [{ deviceId: "dev_y", inFlight: 2 }] })) as { nodes: NodeInfo[] };
  assert.is(list.nodes[0]?.draining, false);
  assert.is(list.nodes[0]?.maxConcurrency, 0);
});

test("a oneof decodes with its member and the virtual field naming it, the other members absent", () => {
  const connect = method("Node", "Connect");
  const m = connect.requestDeserialize(connect.requestSerialize({ ping: { sentAt: 5 } })) as Record<string, unknown>;
  assert.is(m.msg, "ping");
  assert.equal({ ...(m.ping as object) }, { sentAt: 5 });
  assert.not.ok("register" in m && m.register !== null && m.register !== undefined);
});

test("tether status shows a store state it does not know as it is, never as ok (the wire says string)", async () => {
  // The hand-copied StatusResponse said storeState was "ok" | "failed" | "damaged"; the proto
  // says string, and the CLI printed any other value as "store: ok" while exiting 14.
  const tmp = tempDir("tether-wire-status-");
  const server = new Server();
  const Admin = (loadPackageDefinition(tetherPackageDefinition()) as unknown as { tether: { v1: { Admin: { service: ServiceDefinition } } } }).tether.v1.Admin;
  const answer: Partial<StatusResponse> = { version: "9.9.9", listen: "127.0.0.1:1", storeState: "degraded", storeError: "replica behind", storeSince: 1 };
  server.addService(Admin.service, { Status: (_call: unknown, cb: (e: null, r: object) => void) => cb(null, answer) });
  try {
    await new Promise<number>((res, rej) => server.bindAsync(`unix:${join(tmp.path, ADMIN_SOCKET_NAME)}`, ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    const human = await cliInProcess(["status", "--data-dir", tmp.path]);
    assert.is(human.code, 14, human.stderr);
    assert.match(human.stdout, /\n {2}store: +degraded: replica behind\n/);
    assert.not.match(human.stdout, /store: +ok/);
    answer.storeState = "ok";
    const ok = await cliInProcess(["status", "--data-dir", tmp.path]);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /\n {2}store: +ok\n/);
  } finally {
    await new Promise<void>((r) => server.tryShutdown(() => r()));
    tmp.remove();
  }
});

test.run();
