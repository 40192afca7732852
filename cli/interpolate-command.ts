/**
 * `preciseinv interpolate <a.safetensors> <b.safetensors>`: frames between two inverted latents
 * of one model and plan, each rendered with the recorded sampler. Writes DIR/frame-000.png...,
 * DIR/contact-sheet.png, DIR/interpolation.webp (animated) and DIR/interpolation.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DiffusionPipeline } from '../shared/diffusion/pipeline/diffusion-pipeline.ts';
import { encodePng } from '../shared/diffusion/image/encode-png.ts';
import { animatedWebp } from '../shared/editing/animated-webp.ts';
import { contactSheetPng } from '../shared/editing/contact-sheet.ts';
import { checkInterpolable, interpolate } from '../shared/editing/interpolate.ts';
import { INTERPOLATION_MODES, type InterpolationMode } from '../shared/editing/latent-path.ts';
import { latentModel, readLatentArg } from './latent-input.ts';
import { progressBar } from './progress-bar.ts';
import { UsageError } from './usage-error.ts';

export const INTERPOLATE_USAGE = 'interpolate <a.safetensors> <b.safetensors> [--frames N] [--mode slerp|linear] [--columns C] [--delay MS] [--model M] [--out DIR] [--json]';

function integer(flag: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag} expects an integer in ${min}..${max}, got '${raw}'`);
  return n;
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        frames: { type: 'string', default: '8' },
        mode: { type: 'string', default: 'slerp' },
        columns: { type: 'string' },
        delay: { type: 'string', default: '120' },
        model: { type: 'string' },
        out: { type: 'string', default: 'interpolation' },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export async function interpolateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (positionals.length !== 2) throw new UsageError(`expected two latent files, e.g. \`preciseinv interpolate a/latent.safetensors b/latent.safetensors --frames 8\`, got ${positionals.length}`);
  const frames = integer('frames', values.frames!, 2, 256);
  const mode = values.mode as InterpolationMode;
  if (!INTERPOLATION_MODES.includes(mode)) throw new UsageError(`--mode expects one of ${INTERPOLATION_MODES.join(', ')}, got '${values.mode}'`);
  const columns = values.columns === undefined ? Math.min(frames, 8) : integer('columns', values.columns, 1, 256);
  const delay = integer('delay', values.delay!, 1, 60_000);
  const [pathA, pathB] = positionals as [string, string];
  const a = readLatentArg(pathA);
  const b = readLatentArg(pathB);
  try {
    checkInterpolable(a, b, [pathA, pathB]);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const model = latentModel(a, values.model);

  const pipeline = await DiffusionPipeline.open(model.dir);
  const bar = progressBar(process.stderr.isTTY && !values.json);
  const started = performance.now();
  let result: Awaited<ReturnType<typeof interpolate>>;
  try {
    result = await interpolate(pipeline, a, b, { frames, mode, onFrame: (done, of) => bar.update(done, of, 'frame') });
  } finally {
    bar.end();
    await pipeline.release();
  }
  const seconds = (performance.now() - started) / 1000;
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
}
