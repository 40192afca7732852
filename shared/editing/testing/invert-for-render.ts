/** Test helper: one image inverted through the real pipeline, read back as a render reads it. */
import { readFileSync } from 'node:fs';
import type { DiffusionPipeline } from '../../diffusion/pipeline/diffusion-pipeline.ts';
import { invertImages, type InversionParams } from '../../inversion/invert-images.ts';
import { readInvertedLatent, type InvertedLatent } from '../inverted-latent.ts';

export interface InvertedForRender {
  source: InvertedLatent;
  /** The inversion's own reconstruction.png. */
  reconstructionPng: Uint8Array;
}

export async function invertForRender(pipeline: DiffusionPipeline, image: { name: string; bytes: Uint8Array } | string, params: InversionParams): Promise<InvertedForRender> {
  const input = typeof image === 'string' ? { name: image, bytes: new Uint8Array(readFileSync(image)) } : image;
  const [result] = await invertImages(pipeline, [input], params);
  if (!result?.ok) throw new Error(result?.ok === false ? result.error : 'no result');
  const trajectory = result.files['trajectory.safetensors'];
  return { source: readInvertedLatent(result.files['latent.safetensors']!, trajectory), reconstructionPng: result.files['reconstruction.png']! };
}
