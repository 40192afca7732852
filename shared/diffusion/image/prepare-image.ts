/**
 * Decoded pixels -> the model's input: resized so the image covers the target (shorter side
 * scaled), center-cropped to it, then CHW float32 in [-1, 1] as diffusers' VAE expects.
 */
import sharp from 'sharp';
import type { ModelManifest } from '../../contracts/model-manifest.ts';
import type { DecodedImage } from './decode-image.ts';

/** A fixed size, or a model's rule: shorter side `default`, sides multiples of `multipleOf`, area <= `maxPixels`. */
export type ResolutionRule = { width: number; height: number } | ModelManifest['resolution'];

export interface PreparedImage {
  width: number;
  height: number;
  /** [3, height, width], values in [-1, 1]. */
  chw: Float32Array;
}

/**
 * The size an image of `width` x `height` is brought to. For a model rule the shorter side becomes
 * `default` (upscaling small images too) and the longer side keeps the aspect ratio, rounded down
 * to a multiple, then shortened until the area fits `maxPixels`.
 */
export function targetSize(width: number, height: number, rule: ResolutionRule): { width: number; height: number } {
  if ('width' in rule) return { width: rule.width, height: rule.height };
  const { default: short, multipleOf, maxPixels } = rule;
  if (short * short > maxPixels) {
    throw new RangeError(`resolution rule: default ${short} squared exceeds maxPixels ${maxPixels}`);
  }
  const aspect = Math.max(width, height) / Math.min(width, height);
  let long = Math.max(short, Math.floor((short * aspect) / multipleOf) * multipleOf);
  while (long * short > maxPixels) long -= multipleOf;
  return width >= height ? { width: long, height: short } : { width: short, height: long };
}

export async function prepareImage(image: DecodedImage, rule: ResolutionRule): Promise<PreparedImage> {
  const { width, height } = targetSize(image.width, image.height, rule);
  let rgb = image.rgb;
  if (width !== image.width || height !== image.height) {
    rgb = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(width, height, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
      .raw()
      .toBuffer();
  }
  const plane = width * height;
  const chw = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) chw[c * plane + p] = rgb[3 * p + c]! / 127.5 - 1;
  }
  return { width, height, chw };
}
