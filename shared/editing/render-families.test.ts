/**
 * Rendering on each family's fixture layout (random weights): the inversion's own prompt
 * reproduces its reconstruction bit for bit, and another prompt changes the image, through each
 * family's conditioning (SD1.x text states, SDXL pooled embeds and size micro-conditioning, LCM's
 * guidance input, SD3's joint text and flow sampler, v-prediction under DDIM).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import { encodePng } from '../diffusion/image/encode-png.ts';
import { render } from './render.ts';
import { invertForRender } from './testing/invert-for-render.ts';

const root = join(import.meta.dirname, '..', '..', 'models', 'fixtures');

/** The sd15 fixture with its scheduler switched to v-prediction (its weights are random either way). */
function vPredictionFolder(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'pi-render-v-')), 'sd15-v');
  cpSync(join(root, 'sd15-torchscript'), dir, { recursive: true });
  const file = join(dir, 'scheduler', 'scheduler_config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), prediction_type: 'v_prediction' }));
  return dir;
}

const cases = [
  { name: 'sd15 (epsilon)', dir: () => join(root, 'sd15-torchscript'), prediction: 'epsilon', sampler: 'ddim', guidance: 3 },
  { name: 'sd15 (v_prediction)', dir: vPredictionFolder, prediction: 'v_prediction', sampler: 'ddim', guidance: 3 },
  { name: 'sdxl', dir: () => join(root, 'sdxl-torchscript'), prediction: 'epsilon', sampler: 'ddim', guidance: 3 },
  { name: 'lcm', dir: () => join(root, 'lcm-torchscript'), prediction: 'epsilon', sampler: 'ddim', guidance: 8 },
  { name: 'sd3', dir: () => join(root, 'sd3-torchscript'), prediction: 'flow', sampler: 'flow-euler', guidance: 3 },
] as const;

async function photo(): Promise<Uint8Array> {
  const w = 96;
  const h = 80;
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    raw[3 * i] = i % 251;
    raw[3 * i + 1] = (i * 7) % 253;
    raw[3 * i + 2] = (i * 13) % 255;
  }
  return new Uint8Array(await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
}

describe('render on each family fixture (random weights)', () => {
  for (const c of cases) {
    it(`${c.name}: its own prompt reproduces the reconstruction bit for bit; another prompt changes it`, async () => {
      const pipeline = await DiffusionPipeline.open(c.dir());
      try {
        const { source, reconstructionPng } = await invertForRender(pipeline, { name: 'photo.png', bytes: await photo() }, {
          model: c.name, method: 'ddim', steps: 2, eta: 0, maxIters: 0, guidance: c.guidance, prompt: 'a red bicycle leaning on a wall',
          seed: 3, trajectory: false, resolution: { width: 64, height: 64 }, batchSize: 1,
        });
        expect(source.meta).toMatchObject({ predictionType: c.prediction, sampler: c.sampler, width: 64, height: 64, negativePrompt: '' });
        // Random weights could decode to a flat image, against which equality proves little.
        const { data } = await sharp(reconstructionPng).raw().toBuffer({ resolveWithObject: true });
        expect(new Set(data).size).toBeGreaterThan(16);
        const same = await render(pipeline, source);
        expect(Buffer.from(await encodePng(same.pixels, same.width, same.height)).equals(Buffer.from(reconstructionPng))).toBe(true);
        const edited = await render(pipeline, source, { prompt: 'a blue boat on a lake', negativePrompt: 'blurry' });
        expect(edited.pixels.every(Number.isFinite)).toBe(true);
        expect(edited.pixels.some((v, k) => v !== same.pixels[k])).toBe(true);
        expect(edited.settings).toMatchObject({ prompt: 'a blue boat on a lake', negativePrompt: 'blurry', guidance: c.guidance, steps: 2, fromStep: 2 });
      } finally {
        await pipeline.release();
      }
    });
  }
});
