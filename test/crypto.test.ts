/** Unit tests of @tether/crypto's pure logic: encodings, codes, the handshake's two halves. */
import { createPublicKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { inspect } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  Secret,
  base32,
  checkIdentityKey,
  constantTimeEqual,
  daemonComplete,
  daemonShare,
  shareCommitment,
  derivePrs,
  deviceIdFromIdentityKey,
  formatPairingUri,
  formatPin,
  fromHex,
  generatePinSecret,
  identityFromSeed,
  identitySign,
  identityVerify,
  isTrivialPinSecret,
  nodeComplete,
  nodeShare,
  parsePairingUri,
  parsePin,
  transcript,
  toHex,
  createSealer,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  p256Verify,
  utf8,
  x25519Native,
} from "@tether/crypto";
import type { HandshakeView, NodeClaims } from "@tether/crypto";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";

/** docs/protocol.md 3.3: PRS("pin", "042", "31415926"), also computed with Python's hashlib. */
const PRS_CHECK_VALUE = "a67cbc27e3e1d68ac868d044c40e7b930d009c1c121a569e8e68b264ce13bf8a";

const rnd = (n: number) => new Uint8Array(randomBytes(n));

test("trivial PINs are refused, and generated PINs are never trivial", () => {
  for (const p of ["00000000", "11111111", "12345678", "87654321", "01234567", "13579135", "12341234", "12121212", "11112222", "90123456"]) {
    assert.ok(isTrivialPinSecret(p), p);
  }
  for (const p of ["31415926", "27182818", "58203974"]) assert.not.ok(isTrivialPinSecret(p), p);
  for (let i = 0; i < 500; i++) {
    const s = generatePinSecret(rnd);
    assert.match(s, /^\d{8}$/);
    assert.not.ok(isTrivialPinSecret(s));
  }
});

test("the PIN generator skips trivial secrets its randomness source produces", () => {
  // A scripted source: each call answers the next batch of digit bytes (bytes < 250 give
  // digit b % 10). The first batches spell trivial secrets; the last a good one.
  const script = (...pins: string[]) => {
    const calls: number[] = [];
    const queue = pins.map((p) => [...p].map(Number));
    const source = (n: number) => {
      calls.push(n);
      const digits = queue.shift();
      if (!digits) throw new Error("the generator asked for more randomness than scripted");
      return Uint8Array.from({ length: n }, (_, i) => digits[i % digits.length] as number);
    };
    return { source, calls };
  };
  for (const trivial of ["11111111", "12345678", "87654321", "12341234", "11112222"]) {
    const s = script(trivial, "31415926");
    assert.is(generatePinSecret(s.source), "31415926", `${trivial} was not skipped`);
    assert.is(s.calls.length, 2);
  }
  const several = script("00000000", "13579135", "24682468", "58203974");
  assert.is(generatePinSecret(several.source), "58203974");
  assert.is(several.calls.length, 4);
});

test("PIN format round-trips and tolerates spaces", () => {
  assert.is(formatPin("042", "31415926"), "042-3141-5926");
  assert.equal(parsePin(" 042 3141 5926 "), { selector: "042", secret: "31415926" });
  assert.throws(() => parsePin("042-3141-592"), /11 digits/);
  assert.throws(() => parsePin("abc-defg-hijk"), /11 digits/);
});

test("pairing URIs round-trip and bad ones are refused with the part named", () => {
  const u = { address: "127.0.0.1:7443", selector: "0123456789abcdef", secret: rnd(16), caFingerprint: "ab".repeat(32), expiresAt: 1_900_000_000_000 };
  const s = formatPairingUri(u);
  assert.equal(parsePairingUri(s), u);
  assert.equal(parsePairingUri(formatPairingUri({ ...u, address: "[::1]:7443" })).address, "[::1]:7443");
  const bad: [string, RegExp][] = [
    [s.replace("tether://", "https://"), /scheme/],
    [s.replace("/pair?", "/x?"), /path/],
    [s.replace("v=1", "v=2"), /version/],
    [s.replace(/c=[0-9a-f]+/, "c=xyz"), /selector/],
    [s.replace(/s=[^&]+/, "s=AAAA"), /secret/],
    [s.replace(/fp=[0-9a-f]+/, "fp=abc"), /fingerprint/],
    [s.replace(/exp=\d+/, "exp=soon"), /exp/],
    ["not a uri", /not a URI/],
    [`${s}&pad=${"x".repeat(2000)}`, /too long/],
  ];
  for (const [text, re] of bad) assert.throws(() => parsePairingUri(text), re, text.slice(0, 60));
});

test("transcripts are length-prefixed so different field lists never collide", () => {
  const a = transcript("t", ["ab", "c"]);
  const b = transcript("t", ["a", "bc"]);
  assert.not.equal(toHex(a), toHex(b));
  assert.is(toHex(transcript("t", ["x"])), "00000001" + "74" + "00000001" + "78");
});

test("constant-time compare", () => {
  assert.ok(constantTimeEqual(fromHex("0102"), fromHex("0102")));
  assert.not.ok(constantTimeEqual(fromHex("0102"), fromHex("0103")));
  assert.not.ok(constantTimeEqual(fromHex("0102"), fromHex("010203")));
});

test("constant-time compare: a difference in any byte counts, the first as much as the last", () => {
  // An accumulator that keeps only the last byte's difference (= instead of |=) would call
  // these equal: they differ only before the final byte.
  const a = rnd(32);
  for (let i = 0; i < a.length; i++) {
    const b = new Uint8Array(a);
    b[i] = (b[i] as number) ^ 0x80;
    assert.not.ok(constantTimeEqual(a, b), `differing only at byte ${i}`);
  }
  assert.not.ok(constantTimeEqual(fromHex("ff00000000"), fromHex("0000000000")), "only the first byte differs");
  assert.not.ok(constantTimeEqual(fromHex("0100"), fromHex("0000")));
  assert.ok(constantTimeEqual(a, new Uint8Array(a)));
});

test("Secret never prints", () => {
  const s = new Secret("123-4567-8901", "PinCode");
  assert.not.match(String(s), /4567/);
  assert.not.match(JSON.stringify({ s }), /4567/);
  assert.not.match(inspect(s), /4567/);
  assert.is(s.expose(), "123-4567-8901");
});

test("device ids derive from the identity key; Ed25519 checks are strict", () => {
  const { publicKey, secretKey } = identityFromSeed(rnd(32));
  const id = deviceIdFromIdentityKey(publicKey);
  assert.match(id, /^dev_[a-z2-7]{26}$/);
  assert.is(deviceIdFromIdentityKey(publicKey), id);
  assert.is(base32(fromHex("666f6f626172")), "mzxw6ytboi"); // RFC 4648 "foobar"
  const sig = identitySign(secretKey, fromHex("01"));
  assert.ok(identityVerify(publicKey, fromHex("01"), sig));
  assert.not.ok(identityVerify(publicKey, fromHex("02"), sig));
  assert.throws(() => checkIdentityKey(new Uint8Array(32)), /small-order|not a valid/);
  assert.throws(() => checkIdentityKey(fromHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")), /identityKey/);
});

/** The daemon's side: share first, keys once Ya is revealed. */
function daemonRespond(prs: Uint8Array, v: Omit<HandshakeView, "yb">, scalar: Uint8Array) {
  const yb = daemonShare(prs, v.method, v.selector, v.sid, Uint8Array.from(scalar));
  return { yb, keys: daemonComplete({ ...v, yb }, shareCommitment(v.sid, v.ya), scalar) };
}

function views(prs: Uint8Array, claims: NodeClaims) {
  const sid = rnd(16);
  const xa = rnd(32);
  const ya = nodeShare(prs, "pin", "042", sid, xa);
  const base: Omit<HandshakeView, "yb"> = {
    method: "pin",
    selector: "042",
    sid,
    ya,
    claims,
    caCertDer: rnd(300),
    caFingerprint: rnd(32),
    signerCertDer: rnd(300),
  };
  return { base, xa };
}

test("the two halves agree with the same code and disagree with another", () => {
  const { publicKey } = identityFromSeed(rnd(32));
  const claims: NodeClaims = { identityKey: publicKey, tlsPublicKey: rnd(91), name: "n", role: "node" };
  const prs = derivePrs("pin", "042", "31415926");
  const { base, xa } = views(prs, claims);
  const d = daemonRespond(prs, base, rnd(32));
  const n = nodeComplete({ ...base, yb: d.yb }, xa);
  assert.is(toHex(n.th), toHex(d.keys.th));
  assert.is(toHex(n.daemonConfirmation), toHex(d.keys.daemonConfirmation));
  assert.is(toHex(n.nodeConfirmation), toHex(d.keys.nodeConfirmation));
  assert.is(n.verificationCode, d.keys.verificationCode);
  assert.match(n.verificationCode, /^\d{3}-\d{3}$/);

  // Wrong password at the daemon: nothing matches.
  const d2 = daemonRespond(derivePrs("pin", "042", "27182818"), base, rnd(32));
  const n2 = nodeComplete({ ...base, yb: d2.yb }, xa);
  assert.not.equal(toHex(n2.daemonConfirmation), toHex(d2.keys.daemonConfirmation));
  assert.not.equal(toHex(n2.nodeConfirmation), toHex(d2.keys.nodeConfirmation));

  // A different claim (name) changes the transcript and the keys even with the right code.
  const d3 = daemonRespond(prs, { ...base, claims: { ...claims, name: "m" } }, rnd(32));
  const n3 = nodeComplete({ ...base, yb: d3.yb }, xa);
  assert.not.equal(toHex(n3.th), toHex(d3.keys.th));
  assert.not.equal(toHex(n3.daemonConfirmation), toHex(d3.keys.daemonConfirmation));
});

test("the daemon refuses a revealed share that differs from the commitment", () => {
  const { publicKey } = identityFromSeed(rnd(32));
  const claims: NodeClaims = { identityKey: publicKey, tlsPublicKey: rnd(91), name: "n", role: "node" };
  const prs = derivePrs("pin", "042", "31415926");
  const { base } = views(prs, claims);
  const scalar = rnd(32);
  const yb = daemonShare(prs, "pin", "042", base.sid, scalar);
  const other = views(prs, claims).base.ya;
  assert.throws(() => daemonComplete({ ...base, yb }, shareCommitment(base.sid, other), scalar), /commitment/);
});

test("the PRS (v2) depends on method, selector and secret, and matches docs/protocol.md", () => {
  const a = toHex(derivePrs("pin", "042", "31415926"));
  assert.is(a.length, 64);
  assert.not.equal(a, toHex(derivePrs("pin", "043", "31415926")));
  assert.not.equal(a, toHex(derivePrs("qr", "042", "31415926")));
  assert.not.equal(a, toHex(derivePrs("pin", "042", "31415927")));
  assert.is(a, toHex(derivePrs("pin", "042", "31415926")));
  assert.is(a, PRS_CHECK_VALUE, "the check value of docs/protocol.md 3.3");
});

test("sealing: a sealed value opens with its key and record only, and any change is refused", () => {
  const key = rnd(32);
  const s = createSealer(key, rnd);
  const sealed = s.seal(utf8("secret PRS"), "code_1");
  assert.is(new TextDecoder().decode(s.open(sealed, "code_1")), "secret PRS");
  assert.throws(() => s.open(sealed, "code_2"), /does not open/);
  assert.throws(() => createSealer(rnd(32), rnd).open(sealed, "code_1"), /does not open/);
  const bad = Uint8Array.from(sealed);
  bad[14] = (bad[14] as number) ^ 1;
  assert.throws(() => s.open(bad, "code_1"), /does not open/);
  assert.throws(() => s.open(sealed.subarray(0, 10), "code_1"), /too short/);
  assert.throws(() => createSealer(rnd(16), rnd), /32/);
});

test("native Ed25519 and X25519 agree with RFC 8032 / RFC 7748 vectors and with noble", () => {
  // RFC 8032, 7.1, TEST 1 and TEST 2
  const t1 = {
    sk: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    pk: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    msg: "",
    sig: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  };
  const t2 = {
    sk: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    pk: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    msg: "72",
    sig: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  };
  for (const t of [t1, t2]) {
    assert.is(toHex(ed25519PublicKey(fromHex(t.sk))), t.pk);
    assert.is(toHex(ed25519Sign(fromHex(t.sk), fromHex(t.msg))), t.sig);
    assert.ok(ed25519Verify(fromHex(t.pk), fromHex(t.msg), fromHex(t.sig)));
    const wrong = fromHex(t.sig);
    wrong[0] = (wrong[0] as number) ^ 1;
    assert.not.ok(ed25519Verify(fromHex(t.pk), fromHex(t.msg), wrong));
  }
  // RFC 7748, 5.2, the first X25519 test vector
  assert.is(
    toHex(x25519Native(fromHex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"), fromHex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))),
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  );
  for (let i = 0; i < 20; i++) {
    const seed = rnd(32);
    const msg = rnd(i * 7);
    assert.is(toHex(ed25519Sign(seed, msg)), toHex(ed25519.sign(msg, seed)));
    assert.is(toHex(ed25519PublicKey(seed)), toHex(ed25519.getPublicKey(seed)));
    const sk = rnd(32);
    const u = x25519.getPublicKey(rnd(32));
    assert.is(toHex(x25519Native(sk, u)), toHex(x25519.getSharedSecret(sk, u)));
  }
});

test("P-256 verification: the RFC 6979 vector, and keys off the curve, of another curve or malformed are refused", () => {
  // RFC 6979, A.2.5: ECDSA, 256 bits (prime field), SHA-256, message "sample"
  const header = "3059301306072a8648ce3d020106082a8648ce3d03010703420004";
  const ux = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
  const uy = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
  const r = "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716";
  const s = "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";
  const spki = fromHex(header + ux + uy);
  const der = fromHex(`3046022100${r}022100${s}`);
  const sample = utf8("sample");
  assert.ok(p256Verify(spki, sample, der), "the published signature verifies");
  assert.not.ok(p256Verify(spki, utf8("samplf"), der), "not over another message");
  const flipped = der.slice();
  flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
  assert.not.ok(p256Verify(spki, sample, flipped), "not with a changed signature");
  // Not strict DER: a length byte too long, and an extra leading zero in r.
  assert.not.ok(p256Verify(spki, sample, fromHex(`304702220000${r}022100${s}`)));
  assert.not.ok(p256Verify(spki, sample, fromHex(`3046022100${r}022100${s}00`)));
  // The canonical header with a point off the curve (y + 1), and with x >= p.
  const offCurve = fromHex(header + ux + uy.slice(0, -1) + "a");
  assert.not.ok(p256Verify(offCurve, sample, der), "a point off the curve");
  assert.not.ok(p256Verify(fromHex(header + "ff".repeat(32) + uy), sample, der), "x >= p");
  assert.not.ok(p256Verify(spki.subarray(0, 90), sample, der), "a truncated key");
  assert.not.ok(p256Verify(new Uint8Array(0), sample, der), "no key");
  // The same key in another SPKI encoding (compressed point) takes the DER path and verifies.
  const compressed = fromHex(`3039301306072a8648ce3d020106082a8648ce3d030107032200${"03"}${ux}`); // y is odd
  assert.is(createPublicKey({ key: Buffer.from(compressed), format: "der", type: "spki" }).export({ format: "jwk" }).y, Buffer.from(uy, "hex").toString("base64url"));
  assert.ok(p256Verify(compressed, sample, der));
  // A P-384 key and signature: refused though the signature is good for that key.
  const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  const sig384 = new Uint8Array(sign("sha256", sample, { key: p384.privateKey, dsaEncoding: "der" }));
  assert.not.ok(p256Verify(new Uint8Array(p384.publicKey.export({ type: "spki", format: "der" })), sample, sig384));
  // Random keys: the fast path agrees with OpenSSL's own signatures.
  for (let i = 0; i < 10; i++) {
    const k = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const pub = new Uint8Array(k.publicKey.export({ type: "spki", format: "der" }));
    const msg = rnd(i * 13);
    assert.ok(p256Verify(pub, msg, new Uint8Array(sign("sha256", msg, { key: k.privateKey, dsaEncoding: "der" }))));
  }
});

test.run();
