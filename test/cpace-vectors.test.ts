/**
 * CPACE-X25519-SHA512 known-answer tests: every vector in ../shared/vectors (draft-irtf-cfrg-cpace-20,
 * Appendices A and B.1) is reproduced by @tether/crypto.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  CPACE_DSI,
  calculateGenerator,
  cpaceIsk,
  cpaceShare,
  cpaceSharedSecret,
  cpaceSidOutput,
  decodeUCoordinate,
  elligator2,
  fromHex,
  generatorString,
  lexicographicallyLarger,
  lvCat,
  oCat,
  prependLen,
  scalarMultVfy,
  toHex,
  transcriptIr,
  transcriptOc,
  utf8,
} from "@tether/crypto";
import { sha512 } from "@noble/hashes/sha2.js";

// A copy of ../shared/vectors/cpace-x25519-sha512.json (draft-irtf-cfrg-cpace-20), kept in the
// repository so a clone tests without the shared folder beside it. Imported as JSON so that the
// compiler knows its fields: a misspelt one is a type error, not an `undefined` compared.
import V from "./vectors/cpace-x25519-sha512.json" with { type: "json" };
const h = (s: string) => fromHex(s);
const hexOf = (b: Uint8Array) => toHex(b);

test("vectors file is the CPACE-X25519-SHA512 suite", () => {
  assert.is(V.suite, "CPACE-X25519-SHA512");
});

test("A.1.2 prepend_len", () => {
  for (const c of V.encoding_helper_vectors.prepend_len) assert.is(hexOf(prependLen(h(c.input))), c.output);
});

test("A.1.4 lv_cat", () => {
  const parts = V.encoding_helper_vectors.lv_cat.inputs_ascii.map((s: string) => utf8(s));
  assert.is(hexOf(lvCat(...parts)), V.encoding_helper_vectors.lv_cat.output);
});

test("A.3 lexicographically_larger and o_cat", () => {
  for (const c of V.encoding_helper_vectors.lexicographically_larger) {
    assert.is(lexicographicallyLarger(h(c.bytes1), h(c.bytes2)), c.result, c.as_published);
  }
  for (const c of V.encoding_helper_vectors.o_cat) {
    assert.is(hexOf(oCat(utf8(c.bytes1_ascii), utf8(c.bytes2_ascii))), c.output);
  }
});

test("A.3.5 / A.3.7 transcript_ir and transcript_oc", () => {
  for (const c of V.encoding_helper_vectors.transcript_ir) {
    assert.is(hexOf(transcriptIr(utf8(c.Ya_ascii), utf8(c.ADa_ascii), utf8(c.Yb_ascii), utf8(c.ADb_ascii))), c.output);
  }
  for (const c of V.encoding_helper_vectors.transcript_oc) {
    assert.is(hexOf(transcriptOc(utf8(c.Ya_ascii), utf8(c.ADa_ascii), utf8(c.Yb_ascii), utf8(c.ADb_ascii))), c.output);
  }
});

test("B.1.1 generator string, hash, decoded u and Elligator 2 output", () => {
  const g = V.generator_calculation;
  assert.is(hexOf(CPACE_DSI), g.DSI);
  const gs = generatorString(h(g.DSI), h(g.PRS), h(g.CI), h(g.sid), g.hash_input_block_size_bytes);
  assert.is(hexOf(gs), g.generator_string);
  const hash = sha512(gs).subarray(0, 32);
  assert.is(hexOf(hash), g.generator_string_hash);
  const u = decodeUCoordinate(hash);
  assert.is(u.toString(16).padStart(64, "0"), toBigEndianHex(g.decoded_u_coordinate));
  assert.is(hexOf(elligator2(u)), V.elligator2_map_to_curve.output_u);
  assert.is(hexOf(calculateGenerator(h(g.PRS), h(g.CI), h(g.sid))), g.generator_g);
});

function toBigEndianHex(le: string): string {
  return Buffer.from(le, "hex").reverse().toString("hex");
}

test("B.1.2-B.1.4 shares and shared secret", () => {
  const g = h(V.generator_calculation.generator_g);
  const A = V.message_from_A;
  const B = V.message_from_B;
  assert.is(hexOf(cpaceShare(h(A.ya), g)), A.Ya);
  assert.is(hexOf(cpaceShare(h(B.yb), g)), B.Yb);
  assert.is(hexOf(cpaceSharedSecret(h(A.ya), h(B.Yb))), V.shared_secret_K.K_from_A);
  assert.is(hexOf(cpaceSharedSecret(h(B.yb), h(A.Ya))), V.shared_secret_K.K_from_B);
});

test("B.1.5-B.1.7 ISK (initiator-responder and parallel) and sid_output", () => {
  const sid = h(V.generator_calculation.sid);
  const K = h(V.shared_secret_K.K_from_A);
  const ir = transcriptIr(h(V.message_from_A.Ya), h(V.message_from_A.ADa), h(V.message_from_B.Yb), h(V.message_from_B.ADb));
  const oc = transcriptOc(h(V.message_from_A.Ya), h(V.message_from_A.ADa), h(V.message_from_B.Yb), h(V.message_from_B.ADb));
  assert.is(hexOf(ir), V.isk_initiator_responder.transcript_ir);
  assert.is(hexOf(oc), V.isk_parallel_ordered_concatenation.transcript_oc);
  assert.is(hexOf(cpaceIsk(sid, K, ir)), V.isk_initiator_responder.ISK);
  assert.is(hexOf(cpaceIsk(sid, K, oc)), V.isk_parallel_ordered_concatenation.ISK);
  assert.is(hexOf(cpaceSidOutput(ir)), V.optional_session_id_output.sid_output_ir);
  assert.is(hexOf(cpaceSidOutput(oc)), V.optional_session_id_output.sid_output_oc);
});

test("B.1.10 scalar_mult_vfy on low-order and non-canonical points", () => {
  const s = h(V.scalar_mult_vfy_low_order_points.scalar_s);
  assert.ok(V.scalar_mult_vfy_low_order_points.cases.length >= 10);
  for (const c of V.scalar_mult_vfy_low_order_points.cases) {
    assert.is(hexOf(scalarMultVfy(s, h(c.u))), c.expected_q, c.name);
    if (c.must_abort_in_protocol) {
      assert.throws(() => cpaceSharedSecret(s, h(c.u)), /low-order/, `${c.name} must abort`);
    } else {
      assert.is(hexOf(cpaceSharedSecret(s, h(c.u))), c.expected_q, c.name);
    }
  }
});

test.run();
