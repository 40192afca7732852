/**
 * `preciseinv interpolate <a.safetensors> <b.safetensors>`: frames between two inverted latents
 * of one model and plan, each rendered with the recorded sampler. Writes DIR/frame-000.png...,
 * DIR/contact-sheet.png, DIR/interpolation.webp (animated) and DIR/interpolation.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { encodePng } from '../shared/diffusion/image/encode-png.ts';
import { animatedWebp } from '../shared/editing/animated-webp.ts';
import { contactSheetPng } from '../shared/editing/contact-sheet.ts';
import { checkInterpolable, interpolate } from '../shared/editing/interpolate.ts';
import { INTERPOLATION_MODES, type InterpolationMode } from '../shared/editing/latent-path.ts';
import { latentModel, readLatentArg } from './latent-input.ts';
import { defineCommand, flag, value } from './options/command-spec.ts';
import { withPipeline } from './with-pipeline.ts';
import { UsageError } from './usage-error.ts';

export const interpolateCommand = defineCommand(
  {
    name: 'interpolate',
    positionals: '<a.safetensors> <b.safetensors>',
    summary: 'Frames between two inverted latents of one model and plan, each rendered with the recorded sampler; writes frame PNGs, contact-sheet.png and an animated interpolation.webp under --out.',
    options: {
      frames: value('N', z.number().int().min(2).max(256).default(8), 'frames, both endpoints included'),
      mode: value('MODE', z.enum(INTERPOLATION_MODES).default('slerp'), 'path between the two latents'),
      columns: value('C', z.number().int().min(1).max(256), 'contact sheet columns (default: min(frames, 8))'),
      delay: value('MS', z.number().int().min(1).max(60_000).default(120), 'milliseconds per frame of the animation'),
      model: value('M', z.string().min(1), "a registry id or model folder (default: the latents' model)"),
      out: value('DIR', z.string().min(1).default('interpolation'), 'output folder'),
      json: flag('print one JSON object instead of the summary line'),
    },
  },
  async ({ values, positionals }) => {
    if (positionals.length !== 2) throw new UsageError(`expected two latent files, e.g. \`preciseinv interpolate a/latent.safetensors b/latent.safetensors --frames 8\`, got ${positionals.length}`);
    const frames = values.frames;
    const mode: InterpolationMode = values.mode;
    const columns = values.columns ?? Math.min(frames, 8);
    const delay = values.delay;
    const [pathA, pathB] = positionals as [string, string];
    const a = readLatentArg(pathA);
    const b = readLatentArg(pathB);
    try {
      checkInterpolable(a, b, [pathA, pathB]);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const model = latentModel(a, values.model);

    const { result, seconds } = await withPipeline(model.dir, values.json, (pipeline, bar) =>
      interpolate(pipeline, a, b, { frames, mode, onFrame: (done, of) => bar.update(done, of, 'frame') }),
    );
    const outDir = resolve(values.out!);
    mkdirSync(outDir, { recursive: true });
    const framePaths: string[] = [];
    for (const [k, f] of result.frames.entries()) {
      const path = join(outDir, `frame-${String(k).padStart(3, '0')}.png`);
      writeFileSync(path, await encodePng(f.pixels, f.width, f.height));
      framePaths.push(path);
    }
    const sheet = join(outDir, 'contact-sheet.png');
    writeFileSync(sheet, await contactSheetPng(result.frames, { columns }));
    const webp = join(outDir, 'interpolation.webp');
    writeFileSync(webp, await animatedWebp(result.frames, delay));
    const { width, height, prompt, guidance, steps, seed } = result.settings;
    const record = { a: resolve(pathA), b: resolve(pathB), model: a.meta.model, sampler: a.meta.sampler, mode, frames, width, height, prompt, guidance, steps, seed, seconds };
    writeFileSync(join(outDir, 'interpolation.json'), `${JSON.stringify(record, null, 2)}\n`);
    if (values.json) console.log(JSON.stringify({ ok: true, ...record, framePaths, contactSheet: sheet, animation: webp }));
    else console.log(`${frames} frames (${mode}, ${width}x${height}) in ${seconds.toFixed(2)} s: ${outDir}/ (frame-*.png, contact-sheet.png, interpolation.webp)`);
    return 0;
  },
);
