/**
 * QR codes for pairing URIs: the drawing `tether pair code --method qr` prints on the
 * terminal, the PNG and SVG files it writes, and the reader behind `tether node pair
 * --qr-image` (a PNG, or a JPEG photo of the code). The matrix comes from `qrcode`, decoding
 * from `jsqr` (with `pngjs` and `jpeg-js` for the pixels).
 *
 * The terminal form puts two modules in each character cell, one above the other (▀ ▄ █ and
 * space), so a code of N modules takes (N + 4) / 2 rows, rounded up. It draws the LIGHT modules
 * and the quiet zone in the text colour and leaves the dark modules as the background. On a
 * dark terminal (light text on a dark background, the usual default) that is an ordinary
 * dark-on-light code, the polarity every QR reader expects. Drawing the dark modules instead would
 * show a light-on-dark (inverted) code there, which not every scanner reads; forcing black on
 * white with ANSI colours fails when the output is piped, logged or shown inert. On a
 * light-background terminal this drawing comes out inverted: use --png or --svg there.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { CliError, Exit } from "./cli.js";

/**
 * `qrcode`, required when a code is drawn: the commands that import this module for its
 * constants (every CLI start-up, through pair code's flags) do not load it.
 */
const QRCode = { get: (): typeof import("qrcode") => createRequire(import.meta.url)("qrcode") as typeof import("qrcode") };

/**
 * Error correction on the terminal: L (7 %). A screen is not scuffed, and each level up costs
 * a version (4 modules, 2 rows): L keeps the code smallest, with the largest modules.
 */
export const TERMINAL_QR_LEVEL = "L";
/** Error correction in PNG and SVG files: M (15 %), since a printed label can be scuffed. */
export const IMAGE_QR_LEVEL = "M";
/**
 * Light modules around the terminal code. The standard asks for 4; 2 keeps a 100-character
 * URI within 24 rows, and the terminal's own background beyond it does no harm.
 */
export const TERMINAL_QUIET_ZONE = 2;
/** Light modules around the code in PNG and SVG files: the standard's 4. */
export const IMAGE_QUIET_ZONE = 4;
/**
 * PNG pixels per module: the default, and the range `--scale` accepts. At 1 a pixel a module
 * zbar misses about a third of pairing codes; from 2 both decoders read them.
 */
export const DEFAULT_PNG_SCALE = 4;
export const MIN_PNG_SCALE = 2;
export const MAX_PNG_SCALE = 40;

/** A cell's character, indexed by (top light ? 2 : 0) + (bottom light ? 1 : 0). */
const CELLS = [" ", "▄", "▀", "█"] as const;

/** The code as half-block text, one line a row of cells, each line ending in "\n". */
export function qrTerminal(text: string): string {
  const { modules } = QRCode.get().create(text, { errorCorrectionLevel: TERMINAL_QR_LEVEL });
  const q = TERMINAL_QUIET_ZONE;
  const n = modules.size + 2 * q;
  // Below the last row (n is always odd) the half cell is left dark, outside the code.
  const light = (x: number, y: number) => y < n && (x < q || y < q || x >= n - q || y >= n - q || !modules.get(y - q, x - q));
  let out = "";
  for (let y = 0; y < n; y += 2) {
    for (let x = 0; x < n; x++) out += CELLS[(light(x, y) ? 2 : 0) + (light(x, y + 1) ? 1 : 0)];
    out += "\n";
  }
  return out;
}

/** The code as a PNG, `scale` pixels per module. */
export function qrPng(text: string, scale = DEFAULT_PNG_SCALE): Promise<Buffer> {
  return QRCode.get().toBuffer(text, { type: "png", errorCorrectionLevel: IMAGE_QR_LEVEL, margin: IMAGE_QUIET_ZONE, scale });
}

/** The code as an SVG document (one module = one user unit; it scales). */
export function qrSvg(text: string): Promise<string> {
  return QRCode.get().toString(text, { type: "svg", errorCorrectionLevel: IMAGE_QR_LEVEL, margin: IMAGE_QUIET_ZONE });
}

/** The image formats `imageKind` tells apart. */
export type ImageKind = "PNG" | "JPEG" | "GIF" | "WebP" | "HEIC" | "AVIF" | "BMP" | "TIFF" | "SVG" | "PDF";

/** How an error names the formats the reader does not take. */
const OTHER_KINDS: Record<Exclude<ImageKind, "PNG" | "JPEG">, string> = {
  GIF: "a GIF image",
  WebP: "a WebP image",
  HEIC: "a HEIC image",
  AVIF: "an AVIF image",
  BMP: "a BMP image",
  TIFF: "a TIFF image",
  SVG: "an SVG image",
  PDF: "a PDF document",
};

/** What an image file's first bytes say it is: PNG, JPEG, or another format a phone or screenshot tool writes. */
export function imageKind(b: Uint8Array): ImageKind | undefined {
  const ascii = (from: number, to: number) => Buffer.from(b.subarray(from, to)).toString("latin1");
  if (b[0] === 0x89 && ascii(1, 8) === "PNG\r\n\x1a\n") return "PNG";
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "JPEG";
  if (ascii(0, 4) === "GIF8") return "GIF";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "WebP";
  if (ascii(4, 8) === "ftyp") {
    const brand = ascii(8, 12);
    if (brand === "avif" || brand === "avis") return "AVIF";
    if (/^(hei[cxms]|hev[cxms]|mif1|msf1)$/.test(brand)) return "HEIC";
  }
  if (ascii(0, 2) === "BM") return "BMP";
  if (ascii(0, 4) === "II*\0" || ascii(0, 4) === "MM\0*") return "TIFF";
  if (ascii(0, 5) === "%PDF-") return "PDF";
  if (/^(\xef\xbb\xbf)?\s*(<[?!][^]*)?<svg[\s>]/i.test(ascii(0, 1024))) return "SVG";
  return undefined;
}

type Jsqr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;

/**
 * Read the pairing URI from a PNG or JPEG file.
 * @throws CliError (exit 2) naming the file when it cannot be read, is another format, or holds no QR code.
 */
export async function readQrImage(file: string): Promise<string> {
  const where = `--qr-image ${file}`;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (cause) {
    throw new CliError(Exit.Usage, `${where}: cannot read it (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, { cause });
  }
  if (bytes.length === 0) throw new CliError(Exit.Usage, `${where} is empty; give a PNG or JPEG`);
  const kind = imageKind(bytes);
  if (kind !== "PNG" && kind !== "JPEG") {
    throw new CliError(Exit.Usage, kind ? `${where} is ${OTHER_KINDS[kind]}; give a PNG or JPEG` : `${where} is not a PNG or JPEG image`);
  }
  let pixels: { width: number; height: number; data: Uint8Array };
  try {
    pixels = kind === "PNG" ? (await import("pngjs")).PNG.sync.read(bytes) : (await import("jpeg-js")).default.decode(bytes, { useTArray: true, formatAsRGBA: true });
  } catch (cause) {
    // jpeg-js also refuses arithmetic coding and images past 100 megapixels.
    throw new CliError(Exit.Usage, `${where}: a damaged or unsupported ${kind} file (${(cause as Error).message})`, { cause });
  }
  const jsQR = (await import("jsqr")).default as unknown as Jsqr;
  const found = jsQR(new Uint8ClampedArray(pixels.data.buffer, pixels.data.byteOffset, pixels.data.length), pixels.width, pixels.height);
  if (!found) throw new CliError(Exit.Usage, `${where}: no QR code found in the image`);
  return found.data;
}
