#!/usr/bin/env python3
"""Independent check of docs/protocol.md (tether pairing protocol, version 2), and of the
renewal key proof of docs/fleet.md §5A.1.

Written from the document's text only (no code from packages/ was read or ported), in pure
Python 3 with the standard library. It:
  1. checks its own primitives (X25519, Elligator 2, generator string, ISK, helpers) against
     the CPace draft-20 vectors in test/vectors/cpace-x25519-sha512.json;
  2. recomputes every Appendix A output from the Appendix A inputs;
  3. reads docs/protocol.md, extracts the printed values (Appendix A tables, the §3.3 and
     §9.1 check values, and the example byte strings in §§3.2, 3.3, 4, 5.1, 8.6) and
     compares them with what the text specifies;
  4. reads docs/fleet.md §5A.1, recomputes the renewal and key-proof signed bytes from the
     stated inputs, and verifies the printed key proof with P-256 ECDSA written from FIPS
     186-4 (itself checked first against the RFC 6979 A.2.5 vector);
  5. reads docs/fleet.md §5A.5 (Pairing.Return), recomputes the return signed bytes, its
     signature, its key proof and the return verification code the same way.
Prints one line per value: "ok NAME" or "MISMATCH NAME expected X got Y".
Exits 0 only if everything matches.

Run from anywhere: python3 test/independent/check_protocol.py
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
FLEET_DOC = ROOT / "docs" / "fleet.md"
VECTORS = ROOT / "test" / "vectors" / "cpace-x25519-sha512.json"

failures = 0


def report(name: str, expected: bytes | str, got: bytes | str) -> None:
    global failures
    e = expected.hex() if isinstance(expected, (bytes, bytearray)) else expected
    g = got.hex() if isinstance(got, (bytes, bytearray)) else got
    if e == g:
        print(f"ok {name}")
    else:
        failures += 1
        print(f"MISMATCH {name} expected {e} got {g}")


def fail(name: str, why: str) -> None:
    global failures
    failures += 1
    print(f"MISMATCH {name} expected <value in docs/protocol.md> got <{why}>")


# ---------------------------------------------------------------------------------------
# §2 notation
# ---------------------------------------------------------------------------------------

def u32be(n: int) -> bytes:
    return struct.pack(">I", n)


def u64be(n: int) -> bytes:
    return struct.pack(">Q", n)


def leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def prepend_len(x: bytes) -> bytes:
    return leb128(len(x)) + x


def lv_cat(*parts: bytes) -> bytes:
    return b"".join(prepend_len(p) for p in parts)


def o_cat(x: bytes, y: bytes) -> bytes:
    # Python's bytes ordering: byte by byte, a proper prefix is smaller (as in the draft).
    return b"oc" + (x + y if x > y else y + x)


def to_bytes(f: bytes | str) -> bytes:
    return f.encode("utf-8") if isinstance(f, str) else f


def transcript(tag: str, fields: list[bytes | str]) -> bytes:
    t = tag.encode("utf-8")
    out = u32be(len(t)) + t
    for f in fields:
        fb = to_bytes(f)
        out += u32be(len(fb)) + fb
    return out


def sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def sha512(b: bytes) -> bytes:
    return hashlib.sha512(b).digest()


def hmac_sha512(k: bytes, m: bytes) -> bytes:
    return hmac.new(k, m, hashlib.sha512).digest()


def hkdf_sha512(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 extract-then-expand."""
    prk = hmac_sha512(salt if salt else b"\x00" * 64, ikm)
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac_sha512(prk, t + info + bytes([i]))
        okm += t
        i += 1
    return okm[:length]


# ---------------------------------------------------------------------------------------
# Curve25519: X25519 (RFC 7748) and Elligator 2 (RFC 9380 §6.7.1)
# ---------------------------------------------------------------------------------------

P = 2**255 - 19
A24 = 121665
MONT_A = 486662


def decode_u(b: bytes) -> int:
    """RFC 7748 decodeUCoordinate: mask bit 255 (the value is NOT reduced here)."""
    assert len(b) == 32
    return int.from_bytes(b, "little") & ((1 << 255) - 1)


def encode_u(u: int) -> bytes:
    return (u % P).to_bytes(32, "little")


def decode_scalar(k: bytes) -> int:
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return int.from_bytes(b, "little")


def x25519(k: bytes, u: bytes) -> bytes:
    """RFC 7748 §5 Montgomery ladder."""
    kk = decode_scalar(k)
    x1 = decode_u(u) % P
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        kt = (kk >> t) & 1
        swap ^= kt
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = kt
        a = (x2 + z2) % P
        aa = a * a % P
        b = (x2 - z2) % P
        bb = b * b % P
        e = (aa - bb) % P
        c = (x3 + z3) % P
        d = (x3 - z3) % P
        da = d * a % P
        cb = c * b % P
        x3 = (da + cb) ** 2 % P
        z3 = x1 * (da - cb) ** 2 % P
        x2 = aa * bb % P
        z2 = e * (aa + A24 * e) % P
    if swap:
        x2, x3, z2, z3 = x3, x2, z3, z2
    return encode_u(x2 * pow(z2, P - 2, P))


def is_square(x: int) -> bool:
    x %= P
    return x == 0 or pow(x, (P - 1) // 2, P) == 1


def inv0(x: int) -> int:
    return pow(x % P, P - 2, P)  # inv0(0) = 0


def elligator2_curve25519(u: int) -> bytes:
    """RFC 9380 §6.7.1 map_to_curve_elligator2, curve25519 (J = 486662, K = 1, Z = 2).
    Only the Montgomery u-coordinate (s) is returned, 32 bytes LE."""
    J, K, Z = MONT_A, 1, 2
    u %= P
    x1 = (-J * inv0(K)) * inv0(1 + Z * u * u) % P
    if x1 == 0:
        x1 = -J * inv0(K) % P
    gx1 = (x1**3 + J * inv0(K) * x1**2 + x1 * inv0(K * K)) % P
    x2 = (-x1 - J * inv0(K)) % P
    x = x1 if is_square(gx1) else x2
    return encode_u(x * K)


# ---------------------------------------------------------------------------------------
# CPace (draft-irtf-cfrg-cpace-20, CPACE-X25519-SHA512) as instantiated in §4
# ---------------------------------------------------------------------------------------

DSI = b"CPace255"
S_IN_BYTES = 128


def generator_string(dsi: bytes, prs: bytes, ci: bytes, sid: bytes) -> bytes:
    len_zpad = max(0, S_IN_BYTES - 1 - len(prepend_len(prs)) - len(prepend_len(dsi)))
    return lv_cat(dsi, prs, b"\x00" * len_zpad, ci, sid)


def calculate_generator(dsi: bytes, prs: bytes, ci: bytes, sid: bytes) -> tuple[bytes, bytes, bytes]:
    gs = generator_string(dsi, prs, ci, sid)
    h = sha512(gs)[:32]
    u = decode_u(h) % P
    return gs, h, elligator2_curve25519(u)


def cpace_isk(sid: bytes, k: bytes, tr: bytes) -> bytes:
    return sha512(lv_cat(DSI + b"_ISK", sid, k) + tr)


def transcript_ir(ya: bytes, ada: bytes, yb: bytes, adb: bytes) -> bytes:
    return lv_cat(ya, ada) + lv_cat(yb, adb)


def transcript_oc(ya: bytes, ada: bytes, yb: bytes, adb: bytes) -> bytes:
    return o_cat(lv_cat(ya, ada), lv_cat(yb, adb))


# ---------------------------------------------------------------------------------------
# Ed25519 (RFC 8032 §5.1, reference style)
# ---------------------------------------------------------------------------------------

ED_D = -121665 * pow(121666, P - 2, P) % P
ED_L = 2**252 + 27742317777372353535851937790883648493
ED_SQRT_M1 = pow(2, (P - 1) // 4, P)


def _ed_add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * ED_D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _ed_mul(s: int, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _ed_add(q, pt)
        pt = _ed_add(pt, pt)
        s >>= 1
    return q


def _ed_recover_x(y: int, sign: int) -> int:
    x2 = (y * y - 1) * pow(ED_D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        assert not sign
        return 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * ED_SQRT_M1 % P
    assert (x * x - x2) % P == 0
    if (x & 1) != sign:
        x = P - x
    return x


_ED_GY = 4 * pow(5, P - 2, P) % P
_ED_GX = _ed_recover_x(_ED_GY, 0)
ED_G = (_ED_GX, _ED_GY, 1, _ED_GX * _ED_GY % P)


def _ed_compress(pt) -> bytes:
    x, y, z, _ = pt
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _ed_secret_expand(seed: bytes) -> tuple[int, bytes]:
    h = sha512(seed)
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public(seed: bytes) -> bytes:
    a, _ = _ed_secret_expand(seed)
    return _ed_compress(_ed_mul(a, ED_G))


def ed25519_sign(seed: bytes, msg: bytes) -> bytes:
    a, prefix = _ed_secret_expand(seed)
    pub = _ed_compress(_ed_mul(a, ED_G))
    r = int.from_bytes(sha512(prefix + msg), "little") % ED_L
    rs = _ed_compress(_ed_mul(r, ED_G))
    k = int.from_bytes(sha512(rs + pub + msg), "little") % ED_L
    s = (r + k * a) % ED_L
    return rs + s.to_bytes(32, "little")


# ---------------------------------------------------------------------------------------
# ECDSA P-256 / SHA-256 verification (FIPS 186-4 §6.4, SEC 1 §4.1.4), affine coordinates
# ---------------------------------------------------------------------------------------

P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P256_A = P256_P - 3
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
          0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)
P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004")


def p256_on_curve(pt) -> bool:
    x, y = pt
    return 0 <= x < P256_P and 0 <= y < P256_P and (y * y - (x * x * x + P256_A * x + P256_B)) % P256_P == 0


def p256_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P256_P == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + P256_A) * pow(2 * y1, -1, P256_P) % P256_P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P256_P) % P256_P
    x3 = (lam * lam - x1 - x2) % P256_P
    return (x3, (lam * (x1 - x3) - y1) % P256_P)


def p256_mul(k: int, pt):
    q = None
    while k > 0:
        if k & 1:
            q = p256_add(q, pt)
        pt = p256_add(pt, pt)
        k >>= 1
    return q


def p256_point_from_spki(spki: bytes):
    """The uncompressed point of a 91-byte P-256 SPKI, or None."""
    if len(spki) != 91 or spki[:27] != P256_SPKI_PREFIX:
        return None
    pt = (int.from_bytes(spki[27:59], "big"), int.from_bytes(spki[59:91], "big"))
    return pt if p256_on_curve(pt) else None


def der_ecdsa_signature(sig: bytes) -> tuple[int, int] | None:
    """SEQUENCE { INTEGER r, INTEGER s } in strict DER (short lengths, minimal integers), or None."""
    if len(sig) < 8 or sig[0] != 0x30 or sig[1] != len(sig) - 2:
        return None
    out, i = [], 2
    for _ in range(2):
        if i + 2 > len(sig) or sig[i] != 0x02:
            return None
        n = sig[i + 1]
        v = sig[i + 2: i + 2 + n]
        if n == 0 or len(v) != n or v[0] & 0x80 or (n > 1 and v[0] == 0 and not v[1] & 0x80):
            return None
        out.append(int.from_bytes(v, "big"))
        i += 2 + n
    return (out[0], out[1]) if i == len(sig) else None


def p256_verify(point, msg: bytes, r: int, s: int) -> bool:
    if point is None or not (1 <= r < P256_N and 1 <= s < P256_N):
        return False
    e = int.from_bytes(sha256(msg), "big")
    w = pow(s, -1, P256_N)
    x = p256_add(p256_mul(e * w % P256_N, P256_G), p256_mul(r * w % P256_N, point))
    return x is not None and x[0] % P256_N == r


# ---------------------------------------------------------------------------------------
# tether layer (§§3.3, 4, 5, 6, 7, 9.1)
# ---------------------------------------------------------------------------------------

def prs_input(method: str, selector: str, password: bytes) -> bytes:
    return transcript("tether/pair/v2/prs", [method, selector, password])


def derive_prs(method: str, selector: str, password: bytes) -> bytes:
    return sha256(prs_input(method, selector, password))


def pairing_ci(method: str, selector: str) -> bytes:
    return lv_cat(b"tether/pair/v2", method.encode(), selector.encode())


def commitment_input(sid: bytes, ya: bytes) -> bytes:
    return transcript("tether/pair/v2/commitment", [sid, ya])


def commitment(sid: bytes, ya: bytes) -> bytes:
    return sha512(commitment_input(sid, ya))


def th_input(method, selector, sid, ya, yb, identity_key, tls_public_key, name, role,
             ca_fingerprint, signer_certificate) -> bytes:
    return transcript("tether/pair/v2/transcript", [
        u32be(2), method, selector, sid, ya, yb, identity_key, tls_public_key, name, role,
        ca_fingerprint, signer_certificate,
    ])


def verification_code(vc8: bytes) -> str:
    n = struct.unpack(">Q", vc8)[0] % 10**6
    d = f"{n:06d}"
    return f"{d[:3]}-{d[3:]}"


def device_id(identity_key: bytes) -> str:
    h = sha256(b"tether/device-id/v1" + identity_key)
    b32 = base64.b32encode(h).decode("ascii").rstrip("=").lower()
    return "dev_" + b32[:26]


def b64url_nopad(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")


# ---------------------------------------------------------------------------------------
# Part 1: primitives against the CPace draft vectors
# ---------------------------------------------------------------------------------------

def H(s: str) -> bytes:
    return bytes.fromhex(s)


def check_draft_vectors() -> None:
    v = json.loads(VECTORS.read_text())
    enc = v["encoding_helper_vectors"]
    for i, c in enumerate(enc["prepend_len"]):
        report(f"draft.prepend_len[{i}]", H(c["output"]), prepend_len(H(c["input"])))
    report("draft.lv_cat", H(enc["lv_cat"]["output"]),
           lv_cat(*[s.encode() for s in enc["lv_cat"]["inputs_ascii"]]))
    for i, c in enumerate(enc["o_cat"]):
        report(f"draft.o_cat[{i}]", H(c["output"]),
               o_cat(c["bytes1_ascii"].encode(), c["bytes2_ascii"].encode()))
    for name, fn in (("transcript_ir", transcript_ir), ("transcript_oc", transcript_oc)):
        for i, c in enumerate(enc[name]):
            report(f"draft.{name}[{i}]", H(c["output"]),
                   fn(c["Ya_ascii"].encode(), c["ADa_ascii"].encode(),
                      c["Yb_ascii"].encode(), c["ADb_ascii"].encode()))

    g = v["generator_calculation"]
    dsi, prs, ci, sid = H(g["DSI"]), H(g["PRS"]), H(g["CI"]), H(g["sid"])
    report("draft.DSI", dsi, DSI)
    gs, h, gen = calculate_generator(dsi, prs, ci, sid)
    report("draft.zero_padding_length", str(g["zero_padding_length"]),
           str(max(0, S_IN_BYTES - 1 - len(prepend_len(prs)) - len(prepend_len(dsi)))))
    report("draft.generator_string", H(g["generator_string"]), gs)
    report("draft.generator_string_hash", H(g["generator_string_hash"]), h)
    report("draft.decoded_u_coordinate", H(g["decoded_u_coordinate"]), encode_u(decode_u(h)))
    report("draft.generator_g", H(g["generator_g"]), gen)
    e = v["elligator2_map_to_curve"]
    report("draft.elligator2", H(e["output_u"]), elligator2_curve25519(decode_u(H(e["input_u"]))))

    ma, mb = v["message_from_A"], v["message_from_B"]
    ya_s, yb_s = H(ma["ya"]), H(mb["yb"])
    Ya, Yb = x25519(ya_s, gen), x25519(yb_s, gen)
    report("draft.Ya", H(ma["Ya"]), Ya)
    report("draft.Yb", H(mb["Yb"]), Yb)
    k = v["shared_secret_K"]
    report("draft.K_from_A", H(k["K_from_A"]), x25519(ya_s, Yb))
    report("draft.K_from_B", H(k["K_from_B"]), x25519(yb_s, Ya))
    K = x25519(ya_s, Yb)
    ada, adb = H(ma["ADa"]), H(mb["ADb"])
    ir = v["isk_initiator_responder"]
    tr = transcript_ir(Ya, ada, Yb, adb)
    report("draft.transcript_ir", H(ir["transcript_ir"]), tr)
    report("draft.isk_ir_hash_input", H(ir["isk_hash_input"]), lv_cat(DSI + b"_ISK", sid, K) + tr)
    report("draft.ISK_IR", H(ir["ISK"]), cpace_isk(sid, K, tr))
    oc = v["isk_parallel_ordered_concatenation"]
    tro = transcript_oc(Ya, ada, Yb, adb)
    report("draft.transcript_oc", H(oc["transcript_oc"]), tro)
    report("draft.ISK_SY", H(oc["ISK"]), cpace_isk(sid, K, tro))
    so = v["optional_session_id_output"]
    report("draft.sid_output_ir", H(so["sid_output_ir"]), sha512(b"CPaceSidOutput" + tr))
    report("draft.sid_output_oc", H(so["sid_output_oc"]), sha512(b"CPaceSidOutput" + tro))

    lo = v["scalar_mult_vfy_low_order_points"]
    s = H(lo["scalar_s"])
    for c in lo["cases"]:
        q = x25519(s, H(c["u"]))
        report(f"draft.low_order.{c['name']}", H(c["expected_q"]), q)
        report(f"draft.low_order.{c['name']}.abort", str(c["must_abort_in_protocol"]),
               str(q == b"\x00" * 32))

    # RFC 7748 §5.2 first X25519 test vector, for good measure.
    report("rfc7748.x25519_vector1",
           H("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
           x25519(H("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                  H("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")))
    # RFC 8032 §7.1 TEST 1 (empty message).
    seed1 = H("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    report("rfc8032.test1.public", H("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
           ed25519_public(seed1))
    report("rfc8032.test1.signature",
           H("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
           ed25519_sign(seed1, b""))
    # RFC 6979 A.2.5 (P-256, SHA-256, message "sample"): public key from the private key,
    # and the signature verifies (a changed message or r does not).
    q = p256_mul(0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721, P256_G)
    report("rfc6979.a25.public_key",
           H("60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
             "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299"),
           q[0].to_bytes(32, "big") + q[1].to_bytes(32, "big"))
    r6979 = 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716
    s6979 = 0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8
    report("rfc6979.a25.verify", "True,False,False",
           f"{p256_verify(q, b'sample', r6979, s6979)},{p256_verify(q, b'samplf', r6979, s6979)},"
           f"{p256_verify(q, b'sample', r6979 + 1, s6979)}")
    # RFC 4231 test case 2 (HMAC-SHA-512), the primitive under HKDF-SHA512.
    report("rfc4231.hmac_sha512_case2",
           H("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
           hmac_sha512(b"Jefe", b"what do ya want for nothing?"))


# ---------------------------------------------------------------------------------------
# Part 2: Appendix A
# ---------------------------------------------------------------------------------------

METHOD, SELECTOR, SECRET = "pin", "042", "31415926"
SID = bytes(range(16))
SCALAR_A = b"\x11" * 32
SCALAR_B = b"\x22" * 32
IDENTITY_SEED = b"\x01" * 32
TLS_PUBLIC_KEY = H(
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004"
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
)
NAME, ROLE = "node-1", "node"
CA_CERT = b"placeholder CA certificate DER"
SIGNER_CERT = b"placeholder signer certificate DER"
CA_FINGERPRINT = sha256(b"placeholder CA SPKI DER")


def compute_appendix_a() -> dict[str, str]:
    out: dict[str, str] = {}
    prs = derive_prs(METHOD, SELECTOR, SECRET.encode())
    identity_key = ed25519_public(IDENTITY_SEED)
    out["PRS"] = prs.hex()
    out["identity key"] = identity_key.hex()
    out["ca_fingerprint"] = CA_FINGERPRINT.hex()
    ci = pairing_ci(METHOD, SELECTOR)
    _, _, g = calculate_generator(DSI, prs, ci, SID)
    ya = x25519(SCALAR_A, g)
    yb = x25519(SCALAR_B, g)
    k_a = x25519(SCALAR_A, yb)
    k_b = x25519(SCALAR_B, ya)
    if k_a != k_b or k_a == b"\x00" * 32:
        fail("K", "K differs between the parties or is zero")
    ada = lv_cat(identity_key, TLS_PUBLIC_KEY, NAME.encode(), ROLE.encode())
    adb = lv_cat(CA_CERT, SIGNER_CERT)
    isk = cpace_isk(SID, k_a, transcript_ir(ya, ada, yb, adb))
    th = sha512(th_input(METHOD, SELECTOR, SID, ya, yb, identity_key, TLS_PUBLIC_KEY, NAME, ROLE,
                         CA_FINGERPRINT, SIGNER_CERT))
    kd = hkdf_sha512(isk, th, b"tether/pair/v2 daemon confirmation key", 64)
    kn = hkdf_sha512(isk, th, b"tether/pair/v2 node confirmation key", 64)
    vc8 = hkdf_sha512(isk, th, b"tether/pair/v2 verification code", 8)
    out.update({
        "g": g.hex(),
        "Ya": ya.hex(),
        "commitment": commitment(SID, ya).hex(),
        "Yb": yb.hex(),
        "K": k_a.hex(),
        "ISK": isk.hex(),
        "TH": th.hex(),
        "KD": kd.hex(),
        "KN": kn.hex(),
        "daemon_confirmation": hmac_sha512(kd, b"daemon" + th).hex(),
        "node_confirmation": hmac_sha512(kn, b"node" + th).hex(),
        "VC8": vc8.hex(),
        "verification code": verification_code(vc8),
        "node_signature": ed25519_sign(IDENTITY_SEED, b"tether/pair/v2 node signature" + b"\x00" + th).hex(),
        "device_id": device_id(identity_key),
    })
    return out


# ---------------------------------------------------------------------------------------
# Part 3: values printed in docs/protocol.md
# ---------------------------------------------------------------------------------------

def section(doc: str, heading_re: str) -> str:
    """Text from a heading matching heading_re up to the next heading of level <= 3."""
    m = re.search(r"^#{2,3} " + heading_re + r".*$", doc, re.M)
    if not m:
        return ""
    rest = doc[m.end():]
    n = re.search(r"^#{2,3} ", rest, re.M)
    return rest[: n.start()] if n else rest


def hexspan(s: str) -> bytes:
    return bytes.fromhex(re.sub(r"[\s‖|]", "", s))


def table_rows(text: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) >= 2:
            rows[cells[0]] = "|".join(cells[1:])
    return rows


def check_doc(computed: dict[str, str]) -> None:
    doc = DOC.read_text(encoding="utf-8")
    app = section(doc, r"Appendix A\.")
    if not app:
        fail("docs.appendix_a", "Appendix A not found")
        return
    i_in, i_out = app.find("Inputs"), app.find("Outputs:")
    inputs, outputs = table_rows(app[i_in:i_out]), table_rows(app[i_out:])

    # Appendix A inputs that are themselves derived values.
    def input_hex(key_prefix: str) -> str | None:
        for k, v in inputs.items():
            if k.startswith(key_prefix):
                ticks = re.findall(r"`([^`]*)`", v)
                return ticks[-1] if ticks else None
        return None

    for key, label in (("PRS", "PRS"), ("identity key", "identity key"), ("ca_fingerprint", "ca_fingerprint")):
        val = input_hex(key)
        if val is None:
            fail(f"appendix_a.input.{label}", "row not found")
        else:
            report(f"appendix_a.input.{label}", val, computed[label])
    tls = inputs.get("tls_public_key")
    if tls is None:
        fail("appendix_a.input.tls_public_key", "row not found")
    else:
        report("appendix_a.input.tls_public_key", "".join(re.findall(r"`([0-9a-f]+)`", tls)), TLS_PUBLIC_KEY.hex())
    sid_row = inputs.get("sid")
    report("appendix_a.input.sid", re.findall(r"`([^`]*)`", sid_row or "``")[0], SID.hex())

    # Appendix A outputs.
    names = ["g", "Ya", "commitment", "Yb", "K", "ISK", "TH", "KD", "KN",
             "daemon_confirmation", "node_confirmation", "node_signature", "device_id"]
    for n in names:
        row = outputs.get(n)
        if row is None:
            fail(f"appendix_a.{n}", "row not found")
            continue
        ticks = re.findall(r"`([^`]*)`", row)
        report(f"appendix_a.{n}", ticks[0] if ticks else row, computed[n])
    vc_row = next((v for k, v in outputs.items() if k.startswith("VC8")), None)
    if vc_row is None:
        fail("appendix_a.VC8", "row not found")
    else:
        ticks = re.findall(r"`([^`]*)`", vc_row)
        report("appendix_a.VC8", ticks[0], computed["VC8"])
        report("appendix_a.verification_code", ticks[1], computed["verification code"])
        # The mapping itself, applied to the printed VC8.
        report("appendix_a.verification_code_from_printed_VC8", ticks[1], verification_code(H(ticks[0])))

    # §3.3: PRS transcript input and check value.
    s33 = section(doc, r"3\.3 ")
    m = re.search(r"Input for PIN `042-3141-5926`:\s*`([^`]*)`", s33)
    if m:
        report("s3.3.prs_input", hexspan(m.group(1)), prs_input("pin", "042", b"31415926"))
    else:
        fail("s3.3.prs_input", "example not found")
    m = re.search(r'Check value: `PRS\("pin", "042", "31415926"\)` =\s*`([0-9a-f]{64})`', s33)
    if m:
        report("s3.3.prs_check_value", m.group(1), computed["PRS"])
    else:
        fail("s3.3.prs_check_value", "check value not found")

    # §3.2: QR example secret 00 01 .. 0f.
    s32 = section(doc, r"3\.2 ")
    m = re.search(r"Example \(secret `00 01 … 0f`\):\s*`tether://[^`\s]*&s=([A-Za-z0-9_-]+)&", s32)
    if m:
        report("s3.2.qr_example_secret", m.group(1), b64url_nopad(bytes(range(16))))
    else:
        fail("s3.2.qr_example_secret", "example not found")

    # §4: CI example, commitment input prefix.
    s4 = section(doc, r"4\. CPace")
    m = re.search(r"e\.g\. `pin`/`042`: `([^`]*)`", s4)
    if m:
        report("s4.ci_example", hexspan(m.group(1)), pairing_ci("pin", "042"))
    else:
        fail("s4.ci_example", "example not found")
    m = re.search(r"the hashed input is\s*`([^`]*)`", s4)
    if m:
        parts = [p.strip() for p in m.group(1).split("‖")]
        # `prefix ‖ sid ‖ len ‖ Ya`: compare the literal hex parts (sid, Ya are placeholders).
        ci_in = commitment_input(SID, b"\xaa" * 32)
        tag = b"tether/pair/v2/commitment"
        report("s4.commitment_input_prefix", hexspan(parts[0]), ci_in[: 4 + len(tag) + 4])
        report("s4.commitment_input_ya_length", hexspan(parts[2]), u32be(32))
        report("s4.commitment_tag_length", "25", str(len(tag)))
    else:
        fail("s4.commitment_input_prefix", "example not found")

    # §5.1: TH input prefix.
    s51 = section(doc, r"5\.1 ")
    m = re.search(r"the hash input starts\s*`([^`]*?)\s*…`", s51)
    if m:
        want = hexspan(m.group(1))
        tag = b"tether/pair/v2/transcript"
        report("s5.1.th_input_prefix", want, (u32be(len(tag)) + tag + u32be(4) + u32be(2))[: len(want)])
    else:
        fail("s5.1.th_input_prefix", "example not found")

    # §6: info-string lengths.
    s6 = section(doc, r"6\. ")
    m = re.search(r"lengths (\d+), (\d+) and (\d+) bytes", s6)
    if m:
        report("s6.info_lengths", ",".join(m.groups()), ",".join(str(len(s)) for s in (
            b"tether/pair/v2 daemon confirmation key", b"tether/pair/v2 node confirmation key",
            b"tether/pair/v2 verification code")))
    else:
        fail("s6.info_lengths", "text not found")

    # §7: signed-message lengths.
    s7 = section(doc, r"7\. ")
    m = re.search(r'node signature" ‖ 0x00 ‖ TH` \((\d+) \+ 1 \+ 64 = (\d+) bytes\)', s7)
    if m:
        n = len(b"tether/pair/v2 node signature")
        report("s7.node_signed_length", f"{m.group(1)},{m.group(2)}", f"{n},{n + 65}")
    m = re.search(r'daemon signature" ‖ 0x00 ‖ TH` \((\d+) \+ 1 \+ 64 = (\d+) bytes\)', s7)
    if m:
        n = len(b"tether/pair/v2 daemon signature")
        report("s7.daemon_signed_length", f"{m.group(1)},{m.group(2)}", f"{n},{n + 65}")

    # §8.6: Await signed-bytes example.
    s86 = section(doc, r"8\.6 ")
    m = re.search(r"Example signed bytes for `([^`]*)`, `(\d+)`:\s*`([^`]*)`", s86)
    if m:
        report("s8.6.await_example", hexspan(m.group(3)),
               transcript("tether/pair/v2/await", [m.group(1), u64be(int(m.group(2)))]))
    else:
        fail("s8.6.await_example", "example not found")

    # §9.1: device id check value for the RFC 8032 test-1 key.
    s91 = section(doc, r"9\.1 ")
    m = re.search(r"test-1 key\s*`([0-9a-f]{64})` the id is\s*`(dev_[a-z2-7]+)`", s91)
    if m:
        report("s9.1.device_id_check_value", m.group(2), device_id(H(m.group(1))))
    else:
        fail("s9.1.device_id_check_value", "check value not found")


# ---------------------------------------------------------------------------------------
# Part 4: docs/fleet.md §5A.1, the renewal request and its key proof
# ---------------------------------------------------------------------------------------

def check_fleet_key_proof() -> None:
    s5a1 = section(FLEET_DOC.read_text(encoding="utf-8"), r"5A\.1 ")
    if not s5a1:
        fail("fleet.5A.1", "section not found")
        return
    m = re.search(r'transcript\("(tether/key-proof/v1)", \[rpc, device_id, tls_public_key, u64be\(timestamp\)\]\)', s5a1)
    rpcs = re.findall(r'`"(Node\.[A-Za-z]+)"` \((\d+)\s+bytes\)', s5a1)
    inputs = re.search(r"device id `(dev_[a-z2-7]+)`.*?`timestamp` = `(\d+)`", s5a1, re.S)
    i = s5a1.find("**Check values.**")
    if not m or len(rpcs) != 2 or not inputs or i < 0:
        fail("fleet.5A.1", "key-proof message, rpc names, inputs or check values not found")
        return
    tag = m.group(1)
    report("fleet.5A.1.rpc_lengths", ",".join(n for _, n in rpcs), ",".join(str(len(r)) for r, _ in rpcs))
    seed = b"\x01" * 32
    dev = device_id(ed25519_public(seed))
    report("fleet.5A.1.input.device_id", inputs.group(1), dev)
    report("fleet.5A.1.input.tls_public_key_is_d1", TLS_PUBLIC_KEY,
           P256_SPKI_PREFIX + b"".join(c.to_bytes(32, "big") for c in p256_mul(1, P256_G)))
    ts = int(inputs.group(2))
    rows = table_rows(s5a1[i:])

    def row(prefix: str) -> bytes | None:
        for k, v in rows.items():
            if k.startswith(prefix):
                ticks = re.findall(r"`([^`]*)`", v)
                return hexspan(ticks[0]) if ticks else None
        fail(f"fleet.5A.1.{prefix}", "row not found")
        return None

    renew = transcript("tether/renew/v1", [dev, TLS_PUBLIC_KEY, u64be(ts)])
    proofs = {r: transcript(tag, [r, dev, TLS_PUBLIC_KEY, u64be(ts)]) for r, _ in rpcs}
    checks = [
        ("renew signed bytes", renew),
        ("`signature`", ed25519_sign(seed, renew)),
        ("key-proof signed bytes, `Node.Renew`", proofs["Node.Renew"]),
        ("SHA-256 of the `Node.Renew`", sha256(proofs["Node.Renew"])),
        ("key-proof signed bytes, `Node.IssuePeerCertificate`", proofs["Node.IssuePeerCertificate"]),
        ("SHA-256 of the `Node.IssuePeerCertificate`", sha256(proofs["Node.IssuePeerCertificate"])),
    ]
    for prefix, want in checks:
        got = row(prefix)
        if got is not None:
            report(f"fleet.5A.1.{prefix.replace('`', '')}", got, want)
    for k, v in rows.items():
        if k.startswith("renew signed bytes") or k.startswith("key-proof signed bytes"):
            n = re.search(r"\((\d+)\)", k)
            report(f"fleet.5A.1.length.{k}", n.group(1) if n else "?", str(len(hexspan(re.findall(r"`([^`]*)`", v)[0]))))
    proof = row("a `key_proof` for `Node.Renew`")
    if proof is not None:
        rs = der_ecdsa_signature(proof)
        q = p256_point_from_spki(TLS_PUBLIC_KEY)
        ok = rs is not None and p256_verify(q, proofs["Node.Renew"], *rs)
        other = rs is not None and p256_verify(q, proofs["Node.IssuePeerCertificate"], *rs)
        report("fleet.5A.1.key_proof_verifies_for_renew_only", "True,False", f"{ok},{other}")


# ---------------------------------------------------------------------------------------
# Part 5: docs/fleet.md §5A.5, the return request (Pairing.Return)
# ---------------------------------------------------------------------------------------

def check_fleet_return() -> None:
    s = section(FLEET_DOC.read_text(encoding="utf-8"), r"5A\.5 ")
    if not s:
        fail("fleet.5A.5", "section not found")
        return
    m = re.search(r'transcript\("(tether/return/v1)", \[device_id, tls_public_key, u64be\(timestamp\)\]\)', s)
    rpc = re.search(r'`rpc` = `"(Pairing\.Return)"` \((\d+) bytes\)', s)
    inputs = re.search(r"device id\s+`(dev_[a-z2-7]+)`.*?`timestamp` = `(\d+)`", s, re.S)
    code_rule = re.search(r'SHA-512\(`"(tether/return-code/v1)"` ‖ `0x00` ‖ signed message\)', s)
    printed_code = re.search(r"The return verification code of these inputs is \*\*`(\d{3}-\d{3})`\*\*", s)
    i = s.find("**Check values.**")
    if not m or not rpc or not inputs or not code_rule or not printed_code or i < 0:
        fail("fleet.5A.5", "return message, rpc name, inputs, code rule or check values not found")
        return
    report("fleet.5A.5.rpc_length", rpc.group(2), str(len(rpc.group(1))))
    seed = b"\x01" * 32
    dev = device_id(ed25519_public(seed))
    report("fleet.5A.5.input.device_id", inputs.group(1), dev)
    ts = int(inputs.group(2))
    rows = table_rows(s[i:])

    def row(prefix: str) -> bytes | None:
        for k, v in rows.items():
            if k.startswith(prefix):
                ticks = re.findall(r"`([^`]*)`", v)
                return hexspan(ticks[0]) if ticks else None
        fail(f"fleet.5A.5.{prefix}", "row not found")
        return None

    signed = transcript(m.group(1), [dev, TLS_PUBLIC_KEY, u64be(ts)])
    proof_msg = transcript("tether/key-proof/v1", [rpc.group(1), dev, TLS_PUBLIC_KEY, u64be(ts)])
    for prefix, want in [
        ("return signed bytes", signed),
        ("`signature`", ed25519_sign(seed, signed)),
        ("key-proof signed bytes, `Pairing.Return`", proof_msg),
        ("SHA-256 of the `Pairing.Return`", sha256(proof_msg)),
    ]:
        got = row(prefix)
        if got is not None:
            report(f"fleet.5A.5.{prefix.replace('`', '')}", got, want)
    h = hashlib.sha512(code_rule.group(1).encode() + b"\x00" + signed).digest()
    digits = f"{int.from_bytes(h[:8], 'big') % 10**6:06d}"
    report("fleet.5A.5.verification_code", printed_code.group(1), f"{digits[:3]}-{digits[3:]}")
    proof = row("a `key_proof` for `Pairing.Return`")
    if proof is not None:
        rs = der_ecdsa_signature(proof)
        q = p256_point_from_spki(TLS_PUBLIC_KEY)
        renew_msg = transcript("tether/key-proof/v1", ["Node.Renew", dev, TLS_PUBLIC_KEY, u64be(ts)])
        ok = rs is not None and p256_verify(q, proof_msg, *rs)
        other = rs is not None and p256_verify(q, renew_msg, *rs)
        report("fleet.5A.5.key_proof_verifies_for_return_only", "True,False", f"{ok},{other}")


def main() -> int:
    check_draft_vectors()
    computed = compute_appendix_a()
    check_doc(computed)
    check_fleet_key_proof()
    check_fleet_return()
    print(f"{'all values match' if failures == 0 else f'{failures} mismatch(es)'}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
