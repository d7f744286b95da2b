/**
 * The pairing QR code in its three forms, each read back by two decoders: Debian's `zbarimg`
 * (zbar-tools, installed by test/ensure-tools.sh), which shares no code with tether, and
 * tether's own reader (`readQrImage`, behind `tether node pair --qr-image`). The terminal form
 * is turned back into a bitmap here (each character cell is two modules, light where the
 * terminal draws a block), drawn as a dark terminal shows it and written as a PNG; the PNG is
 * read at several scales; the SVG is rasterised by `rsvg-convert` (librsvg2-bin, also installed
 * there). A JPEG photo of a code (darker, off-centre, lossy) pairs a node through
 * `tether node pair --qr-image`. The CLI runs in process (`main()`) against a real daemon.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import QRCode from "qrcode";
import { IMAGE_QUIET_ZONE, TERMINAL_QUIET_ZONE, qrTerminal, readQrImage } from "../packages/cli/src/qr.ts";
import { admin, cliInProcess, startTestDaemon, tempDir } from "./helpers.ts";
import type { TestDaemon } from "./helpers.ts";

const ctx = {} as { d: TestDaemon; tmp: ReturnType<typeof tempDir> };
const Q = suite("qr");
Q.before(async () => {
  ctx.tmp = tempDir("tether-qr-");
  ctx.d = await startTestDaemon();
});
Q.after(async () => {
  await ctx.d?.stop();
  ctx.tmp?.remove();
});

/** A pairing URI of exactly 100 characters (the size the terminal form is budgeted for). */
const URI_100 = "tether://tether.lan:7443/pair?v=1&c=0123456789abcdef&s=AAECAwQFBgcICQoLDA0ODw&fp=1f563b587edbce4a3bb";

/** The CLI in process: exit code, stdout, stderr; `onErr` sees each stderr write. */
const run = (args: string[], onErr?: (s: string) => void) => cliInProcess(args, onErr ? { onErr } : {});

/** zbarimg's reading of an image file (the independent decoder). */
function zbar(file: string): string {
  const r = spawnSync("zbarimg", ["-q", "--raw", "--nodbus", file], { encoding: "utf8" });
  if (r.error) throw new Error(`cannot run zbarimg (install it: apt-get install zbar-tools; test/ensure-tools.sh does): ${r.error.message}`);
  assert.is(r.status, 0, `zbarimg found no code in ${file}: ${r.stderr}`);
  return r.stdout.replace(/\n$/, "");
}

type Bitmap = { width: number; height: number; light: (x: number, y: number) => boolean };

/** The modules a half-block drawing shows: each cell is a top and a bottom module, light where drawn. */
function terminalBitmap(text: string): Bitmap {
  const HALVES: Record<string, [boolean, boolean]> = { " ": [false, false], "▀": [true, false], "▄": [false, true], "█": [true, true] };
  const rows = text
    .replace(/\n$/, "")
    .split("\n")
    .map((line, i) =>
      [...line].map((c, j) => {
        const h = HALVES[c];
        if (!h) throw new Error(`line ${i + 1}, column ${j + 1}: ${JSON.stringify(c)} is not a half block`);
        return h;
      }),
    );
  const width = rows[0]?.length ?? 0;
  for (const r of rows) assert.is(r.length, width, "every line of the drawing is as wide as the first");
  return { width, height: rows.length * 2, light: (x, y) => rows[y >> 1]?.[x]?.[y & 1] ?? false };
}

/** A bitmap as a dark terminal shows it (light grey blocks on near-black, `margin` modules of background around), `px` pixels a module. */
function bitmapPng(b: Bitmap, px: number, margin = 3): Buffer {
  const png = new PNG({ width: (b.width + 2 * margin) * px, height: (b.height + 2 * margin) * px });
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const v = b.light(Math.floor(x / px) - margin, Math.floor(y / px) - margin) ? 0xd0 : 0x1e;
      png.data.set([v, v, v, 255], (y * png.width + x) * 4);
    }
  }
  return PNG.sync.write(png);
}

/** Pixels of a decoded image: whether the one at (x, y) is light. */
function lightAt(img: { width: number; data: Uint8Array }, x: number, y: number): boolean {
  return (img.data[(y * img.width + x) * 4] as number) > 128;
}

/** Asserts the light border of `zone` modules (`px` pixels each) around a code of `modules` modules, and that the code starts right inside it. */
function assertQuietZone(img: { width: number; height: number; data: Uint8Array }, modules: number, zone: number, px: number, what: string) {
  const side = (modules + 2 * zone) * px;
  assert.is(img.width, side, `${what}: width`);
  assert.is(img.height, side, `${what}: height`);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const inZone = x < zone * px || y < zone * px || x >= side - zone * px || y >= side - zone * px;
      if (inZone && !lightAt(img, x, y)) assert.unreachable(`${what}: a dark pixel in the quiet zone at (${x}, ${y})`);
    }
  }
  // The finder patterns' outer corners are dark modules touching the quiet zone.
  const first = zone * px + Math.floor(px / 2);
  const last = side - zone * px - Math.ceil(px / 2);
  for (const [x, y] of [
    [first, first],
    [last, first],
    [first, last],
  ] as const) {
    assert.not.ok(lightAt(img, x, y), `${what}: the finder corner at (${x}, ${y}) is dark, so the zone is exactly ${zone}`);
  }
}

/** The trailing half-block drawing of a `pair code --method qr` output, and what comes before it. */
function splitDrawing(stdout: string): { text: string; drawing: string } {
  const lines = stdout.replace(/\n$/, "").split("\n");
  let i = lines.length;
  while (i > 0 && /^[ ▀▄█]+$/.test(lines[i - 1] as string)) i--;
  return { text: lines.slice(0, i).join("\n"), drawing: `${lines.slice(i).join("\n")}\n` };
}

Q("the terminal form of a 100-character URI is at most 24 rows, with a quiet zone of 2 modules, and both decoders read it", async () => {
  assert.is(URI_100.length, 100);
  const drawing = qrTerminal(URI_100);
  const rows = drawing.split("\n").length - 1;
  assert.ok(rows <= 24, `${rows} rows`);
  assert.is(rows, 21, "version 5 at level L: 37 modules + 2 × 2 quiet, two a row");
  const b = terminalBitmap(drawing);
  // Exactly the L-level matrix inside a 2-module light border; the half row below is background.
  const { modules } = QRCode.create(URI_100, { errorCorrectionLevel: "L" });
  const q = TERMINAL_QUIET_ZONE;
  const n = modules.size + 2 * q;
  assert.is(q, 2);
  assert.is(b.width, n);
  assert.is(b.height, n + 1);
  for (let y = 0; y <= n; y++) {
    for (let x = 0; x < n; x++) {
      const want = y === n ? false : x < q || y < q || x >= n - q || y >= n - q ? true : !modules.get(y - q, x - q);
      if (b.light(x, y) !== want) assert.unreachable(`module (${x}, ${y}) is ${b.light(x, y) ? "light" : "dark"}`);
    }
  }
  for (const px of [3, 8]) {
    const file = join(ctx.tmp.path, `terminal-${px}.png`);
    writeFileSync(file, bitmapPng(b, px));
    assert.is(zbar(file), URI_100, `zbarimg, ${px} px a module`);
    assert.is(await readQrImage(file), URI_100, `tether's reader, ${px} px a module`);
  }
});

Q("pair code --method qr prints the URI, then the code last, with no escape sequences; both decoders read the drawing", async () => {
  const r = await run(["pair", "code", "--method", "qr", "--data-dir", ctx.d.dataDir]);
  assert.is(r.code, 0, r.stderr);
  const { text, drawing } = splitDrawing(r.stdout);
  const uri = /^URI: (tether:\/\/\S+)$/m.exec(text)?.[1] as string;
  assert.ok(uri, text);
  assert.not.match(r.stdout, /\x1b|\\x1b/, "no colour escapes, raw or shown");
  assert.not.match(text, /[▀▄█]/, "only the drawing has blocks");
  // The drawing is the L-level code with its 2-module border and nothing more.
  const rows = drawing.split("\n").length - 1;
  const size = QRCode.create(uri, { errorCorrectionLevel: "L" }).modules.size;
  assert.is(rows, Math.ceil((size + 2 * TERMINAL_QUIET_ZONE) / 2), `${uri.length}-character URI`);
  const file = join(ctx.tmp.path, "cli-terminal.png");
  writeFileSync(file, bitmapPng(terminalBitmap(drawing), 4));
  assert.is(zbar(file), uri);
  assert.is(await readQrImage(file), uri);
});

Q("--png at scales 2, 4 (the default), 12 and 40: a 4-module quiet zone, mode 0600, and both decoders read it", async () => {
  for (const scale of [2, undefined, 12, 40]) {
    const file = join(ctx.tmp.path, `code-${scale ?? "default"}.png`);
    const r = await run(["pair", "code", "--method", "qr", "--png", file, ...(scale ? ["--scale", String(scale)] : []), "--json", "--data-dir", ctx.d.dataDir]);
    assert.is(r.code, 0, r.stderr);
    const uri = (JSON.parse(r.stdout) as { code: string }).code;
    assert.is(statSync(file).mode & 0o777, 0o600);
    const size = QRCode.create(uri, { errorCorrectionLevel: "M" }).modules.size;
    assertQuietZone(PNG.sync.read(readFileSync(file)), size, IMAGE_QUIET_ZONE, scale ?? 4, `scale ${scale ?? "default"}`);
    assert.is(zbar(file), uri, `zbarimg, scale ${scale}`);
    assert.is(await readQrImage(file), uri, `tether's reader, scale ${scale}`);
  }
});

Q("--svg, rasterised by rsvg-convert: a 4-module quiet zone, mode 0600, and both decoders read it", async () => {
  const svg = join(ctx.tmp.path, "code.svg");
  const r = await run(["pair", "code", "--method", "qr", "--svg", svg, "--json", "--data-dir", ctx.d.dataDir]);
  assert.is(r.code, 0, r.stderr);
  const uri = (JSON.parse(r.stdout) as { code: string }).code;
  assert.is(statSync(svg).mode & 0o777, 0o600);
  const size = QRCode.create(uri, { errorCorrectionLevel: "M" }).modules.size;
  const side = size + 2 * IMAGE_QUIET_ZONE;
  assert.match(readFileSync(svg, "utf8"), new RegExp(`viewBox="0 0 ${side} ${side}"`));
  const png = join(ctx.tmp.path, "code-svg.png");
  const px = 6;
  const raster = spawnSync("rsvg-convert", ["--width", String(side * px), "--height", String(side * px), "--background-color", "white", "--output", png, svg], {
    encoding: "utf8",
  });
  if (raster.error) throw new Error(`cannot run rsvg-convert (install it: apt-get install librsvg2-bin; test/ensure-tools.sh does): ${raster.error.message}`);
  assert.is(raster.status, 0, raster.stderr);
  assertQuietZone(PNG.sync.read(readFileSync(png)), size, IMAGE_QUIET_ZONE, px, "svg");
  assert.is(zbar(png), uri);
  assert.is(await readQrImage(png), uri);
});

Q("--scale outside 2..40, not a whole number, or without --png: exit 2 and no code minted", async () => {
  const minted = async () => (await admin<{ entries: { type: string }[] }>(ctx.d, "ListAudit", { limit: 1000 })).entries.filter((e) => e.type === "code.minted").length;
  const before = await minted();
  const png = join(ctx.tmp.path, "never.png");
  for (const [args, message] of [
    [["--png", png, "--scale", "1"], /--scale must be a whole number of pixels per module, from 2 to 40/],
    [["--png", png, "--scale", "41"], /from 2 to 40/],
    [["--png", png, "--scale", "2.5"], /whole number/],
    [["--png", png, "--scale", "big"], /whole number/],
    [["--png", png, "--scale", ""], /whole number/],
    [["--scale", "8"], /--scale needs --png/],
    [["--svg", png, "--scale", "8"], /--scale needs --png/],
  ] as const) {
    const r = await run(["pair", "code", "--method", "qr", ...args, "--data-dir", ctx.d.dataDir]);
    assert.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.is(await minted(), before, "no code was minted");
  assert.throws(() => statSync(png), /ENOENT/);
});

Q("a JPEG photo of the code (darker, off-centre, lossy) is read by both decoders and pairs a node through node pair --qr-image", async () => {
  const pngFile = join(ctx.tmp.path, "for-photo.png");
  const minted = await run(["pair", "code", "--method", "qr", "--png", pngFile, "--json", "--data-dir", ctx.d.dataDir]);
  assert.is(minted.code, 0, minted.stderr);
  const uri = (JSON.parse(minted.stdout) as { code: string }).code;
  // The code, enlarged 2.5 times (nearest pixel, so modules are 10 or 11 pixels), on a grey,
  // shaded 1200×900 "desk", exposed darker (white 205, black 40).
  const code = PNG.sync.read(readFileSync(pngFile));
  const W = 1200;
  const H = 900;
  const zoom = 2.5;
  const photo = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const cx = Math.floor((x - 437) / zoom);
      const cy = Math.floor((y - 211) / zoom);
      const inCode = cx >= 0 && cy >= 0 && cx < code.width && cy < code.height;
      const v = inCode ? 40 + ((code.data[(cy * code.width + cx) * 4] as number) * 165) / 255 : 90 + ((x + 2 * y) % 60);
      photo.set([v, v, v * 0.95, 255], (y * W + x) * 4);
    }
  }
  const jpg = join(ctx.tmp.path, "photo.jpg");
  writeFileSync(jpg, jpeg.encode({ width: W, height: H, data: photo }, 40).data);
  const back = jpeg.decode(readFileSync(jpg), { useTArray: true });
  let changed = 0;
  for (let i = 0; i < photo.length; i += 4) if (Math.abs((back.data[i] as number) - (photo[i] as number)) > 8) changed++;
  assert.ok(changed > 1000, `quality 40 loses detail (${changed} pixels off by more than 8)`);
  assert.is(zbar(jpg), uri, "zbarimg");
  assert.is(await readQrImage(jpg), uri, "tether's reader");

  const stateDir = join(ctx.tmp.path, "jpeg-node");
  const approvals: Promise<unknown>[] = [];
  const r = await run(["node", "pair", "--qr-image", jpg, "--name", "jpeg-node", "--state-dir", stateDir, "--json"], (s) => {
    const m = /"requestId":"([^"]+)"/.exec(s);
    if (m) approvals.push(admin(ctx.d, "ApproveRequest", { id: m[1], role: "" }));
  });
  await Promise.all(approvals);
  assert.is(r.code, 0, r.stderr);
  assert.is(approvals.length, 1);
  const out = JSON.parse(r.stdout) as { deviceId: string; caFingerprint: string };
  assert.is(out.caFingerprint, new URL(uri).searchParams.get("fp"));
  assert.ok(statSync(join(stateDir, "cert.pem")).size > 0);
});

Q("--qr-image names what it found when it is not a PNG or JPEG with a code in it (exit 2)", async () => {
  const file = (name: string, data: string | Uint8Array) => {
    const f = join(ctx.tmp.path, name);
    writeFileSync(f, data);
    return f;
  };
  const svg = join(ctx.tmp.path, "as-svg.svg");
  assert.is((await run(["pair", "code", "--method", "qr", "--svg", svg, "--json", "--data-dir", ctx.d.dataDir])).code, 0);
  const blank = new PNG({ width: 64, height: 64 });
  blank.data.fill(255);
  const grey = new Uint8Array(320 * 240 * 4).fill(128);
  const realJpeg = jpeg.encode({ width: 320, height: 240, data: grey }, 80).data;
  for (const [f, message] of [
    [file("photo.gif", "GIF89a\x01\x00\x01\x00\x00\x00\x00;"), /photo\.gif is a GIF image; give a PNG or JPEG$/],
    [file("photo.webp", "RIFF\x24\x00\x00\x00WEBPVP8 "), /photo\.webp is a WebP image; give a PNG or JPEG$/],
    [file("IMG_0001.HEIC", Buffer.from("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "latin1")), /IMG_0001\.HEIC is a HEIC image; give a PNG or JPEG$/],
    [file("photo.avif", Buffer.from("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", "latin1")), /is an AVIF image; give a PNG or JPEG$/],
    [svg, /as-svg\.svg is an SVG image; give a PNG or JPEG$/],
    [file("scan.pdf", "%PDF-1.7\n"), /scan\.pdf is a PDF document; give a PNG or JPEG$/],
    [file("notes.txt", "tether://not-an-image"), /notes\.txt is not a PNG or JPEG image$/],
    [file("empty.png", ""), /empty\.png is empty; give a PNG or JPEG$/],
    [join(ctx.tmp.path, "missing.png"), /missing\.png: cannot read it \(ENOENT\)$/],
    [file("damaged.png", Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "latin1"), Buffer.alloc(64, 7)])), /damaged\.png: a damaged or unsupported PNG file/],
    [file("damaged.jpg", Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 7)])), /damaged\.jpg: a damaged or unsupported JPEG file/],
    [file("cut.jpg", realJpeg.subarray(0, realJpeg.length >> 1)), /cut\.jpg: a damaged or unsupported JPEG file \(marker was not found\)$/],
    [file("grey.jpg", realJpeg), /grey\.jpg: no QR code found in the image$/],
    [file("blank.png", PNG.sync.write(blank)), /blank\.png: no QR code found in the image$/],
  ] as const) {
    const r = await run(["node", "pair", "--qr-image", f, "--state-dir", join(ctx.tmp.path, "never")]);
    assert.is(r.code, 2, `${f}: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), message);
  }
  assert.throws(() => statSync(join(ctx.tmp.path, "never")), /ENOENT/, "nothing written to the state directory");
});

Q.run();
