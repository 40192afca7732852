/**
 * Image files in, 8-bit sRGB pixels out, with the checks a public upload needs.
 *
 * Every input becomes interleaved 8-bit RGB: EXIF orientation is applied; grayscale is
 * replicated to three channels; 16-bit samples are scaled to 8 bits; CMYK and other colour
 * spaces are converted to sRGB; transparency is composited onto white, because diffusion models
 * are trained on opaque images and white is what viewers show behind transparent pixels.
 * Animated images contribute their first frame.
 */
import sharp from 'sharp';

export class ImageInputError extends Error {
  override name = 'ImageInputError';
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
  }
}

export interface DecodedImage {
  source: string;
  width: number;
  height: number;
  /** RGB, row-major, 3 bytes per pixel. */
  rgb: Uint8Array;
}

export interface DecodeOptions {
  /** Largest width * height accepted, checked from the header before any pixel is decoded. */
  maxInputPixels?: number;
}

export const DEFAULT_MAX_INPUT_PIXELS = 40_000_000;

// Raster formats only: SVG would run a full XML/CSS renderer on uploaded text.
const RASTER_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif', 'jp2', 'jxl']);
const EXPECTED = 'expected a PNG, JPEG, WebP, GIF, TIFF or AVIF/HEIF image';

/** Decodes `bytes`; `source` (a file name or upload key) names the input in every error. */
export async function decodeImage(bytes: Uint8Array, source: string, options: DecodeOptions = {}): Promise<DecodedImage> {
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  if (bytes.byteLength === 0) throw new ImageInputError(source, `the file is empty (0 bytes); ${EXPECTED}`);

  let header: sharp.Metadata;
  try {
    // Reading the header decodes no pixels, so sharp's own cap is lifted to report the size below.
    header = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ImageInputError(source, `not a readable image (${(e as Error).message}); ${EXPECTED}`);
  }
  if (!header.format || !RASTER_FORMATS.has(header.format)) {
    throw new ImageInputError(source, `${header.format ?? 'unknown'} input is not accepted; ${EXPECTED}`);
  }
  const pixels = (header.width ?? 0) * (header.height ?? 0);
  if (pixels > maxInputPixels) {
    throw new ImageInputError(
      source,
      `${header.width}x${header.height} = ${pixels} pixels exceeds the limit of ${maxInputPixels}; downscale the image first`,
    );
  }

  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxInputPixels, autoOrient: true })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels instead of 3`);
    return { source, width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    throw new ImageInputError(source, `the ${header.format} data could not be decoded (${(e as Error).message}); the file may be truncated or corrupt`);
  }
}
