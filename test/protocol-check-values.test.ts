/**
 * docs/protocol.md, Appendix A: every check value, recomputed from the stated inputs with the
 * reference implementation. A change to the protocol's bytes that does not update the
 * document (or the other way round) fails here. The PRS derivation is also checked with
 * Python's hashlib in test/crypto.test.ts's value.
 */
import { createHash } from "node:crypto";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  calculateGenerator,
  cpaceIskIr,
  cpaceSharedSecret,
  daemonAd,
  derivePrs,
  deriveSessionKeys,
  deviceIdFromIdentityKey,
  fromHex,
  identityFromSeed,
  identitySign,
  PAIR_PROTOCOL,
  nodeAd,
  nodeShare,
  nodeSignedMessage,
  pairingCi,
  shareCommitment,
  toHex,
  transcriptHash,
  utf8,
} from "@tether/crypto";

/** The values printed in docs/protocol.md Appendix A. */
export const APPENDIX_A = {
  prs: "a67cbc27e3e1d68ac868d044c40e7b930d009c1c121a569e8e68b264ce13bf8a",
  g: "50324f563170319a5664ec53e28e9033fd6268abeb1262adc5db94921011c021",
  ya: "fa8bf1a31dab3e7c8c122bd8c3b322f17ce360728e5fbea55d0410298f22f654",
  commitment: "95870a9d7180d98cb3bca655c4ba61bf2b9ae687f609d0993af7a3b57c66c57fcac307d24f01595b1ddb217c9028458ce001a8299b34ceda6cb5201fb7774aac",
  yb: "0ed1ef9a740b496959607d5d3e84e37634369c24aa9ea653a54fedbb627d5b2f",
  k: "ac63287de799e63db2c85cf35f5ffeaffc569e2684fffeb4de59a2d08b568805",
  isk: "1113dae371a67688fd7de9813163c728e32a879107d2c6750081008535b5f278608825be99230e14dcc622ecacf5ec33ce30a601b478f6b1b36237fe6c55056a",
  th: "f9f4fc358f3f1912cb5989f327939d00510a43ca1dd080d1672f09aa6cc3c49549fed2bd0bdd4edc541625c65da4f826bdc147af8f8502a7cc36151a3e2d0603",
  kd: "1daa1bba2a5badd9b5bb6de45eeba6feb57b13deed7a59e272b0661ccd81d202aab5d3f38fdfe0d86d7729a9991b641949d72e4269c0284c1b55042c342afcb5",
  kn: "1a96a86a5a4848b283c38ba180e59e3e82ea2c41e8b39a65f80b37b81b9bb17b6d2f388513ae39bddd75cc012ae5e66f33a99095ae4985e159272a7c3d96cbeb",
  daemonConfirmation: "c87361d1c4a60ee4fcc24472d09fce177ec0d2f09b54451b6782f4c686cc900656b9d5e1ac6cfb36375db684b0f6ce04ecd7403efbf79246bdede12f7204be95",
  nodeConfirmation: "22dc16ec1cee069c020cc3389c0a3821b2f39958697749711222f75575257d14aa666724f6602810b12918971a45e5a42965e78169a2d073994fbc5b49fb8779",
  vc8: "094edc767793f926",
  verificationCode: "220-518",
  nodeSignature: "a37684b6506055442a329f828fe2d47424afb24193a0be0457a6b5b1a185f8831974f8dc5333c2cd8d3ae3fcc59d2688f16a8d6d5436f517c9f45372dd5e2c04",
  deviceId: "dev_lslustrdpwaswbn4jpkrwobq7l",
};

export function compute() {
  const prs = derivePrs("pin", "042", "31415926");
  const sid = fromHex("000102030405060708090a0b0c0d0e0f");
  const a = new Uint8Array(32).fill(0x11);
  const b = new Uint8Array(32).fill(0x22);
  const id = identityFromSeed(new Uint8Array(32).fill(0x01));
  const tls = fromHex(
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004" +
      "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296" +
      "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
  );
  const claims = { identityKey: id.publicKey, tlsPublicKey: tls, name: "node-1", role: "node" as const };
  const caCertDer = utf8("placeholder CA certificate DER");
  const signerCertDer = utf8("placeholder signer certificate DER");
  const caFingerprint = new Uint8Array(createHash("sha256").update("placeholder CA SPKI DER").digest());
  const g = calculateGenerator(prs, pairingCi("pin", "042"), sid);
  const ya = nodeShare(prs, "pin", "042", sid, a);
  const yb = nodeShare(prs, "pin", "042", sid, b);
  const k = cpaceSharedSecret(a, yb);
  assert.is(toHex(cpaceSharedSecret(b, ya)), toHex(k), "both sides get the same K");
  const isk = cpaceIskIr(sid, k, ya, nodeAd(claims), yb, daemonAd(caCertDer, signerCertDer));
  const th = transcriptHash({ method: "pin", selector: "042", sid, ya, yb, claims, caCertDer, caFingerprint, signerCertDer });
  const keys = deriveSessionKeys(isk, th);
  const kdf = (label: string) => toHex(hkdf(sha512, isk, th, utf8(`${PAIR_PROTOCOL} ${label}`), 64));
  return {
    prs: toHex(prs),
    g: toHex(g),
    ya: toHex(ya),
    commitment: toHex(shareCommitment(sid, ya)),
    yb: toHex(yb),
    k: toHex(k),
    isk: toHex(isk),
    th: toHex(th),
    kd: kdf("daemon confirmation key"),
    kn: kdf("node confirmation key"),
    daemonConfirmation: toHex(keys.daemonConfirmation),
    nodeConfirmation: toHex(keys.nodeConfirmation),
    vc8: toHex(hkdf(sha512, isk, th, utf8(`${PAIR_PROTOCOL} verification code`), 8)),
    verificationCode: keys.verificationCode,
    nodeSignature: toHex(identitySign(id.secretKey, nodeSignedMessage(th))),
    deviceId: deviceIdFromIdentityKey(id.publicKey),
  };
}

test("docs/protocol.md Appendix A: every check value", () => {
  assert.equal(compute(), APPENDIX_A);
});

test.run();
