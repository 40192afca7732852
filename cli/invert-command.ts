/**
 * `preciseinv invert <images...>`: inverts images with a model and writes, per image, a folder
 * with latent.safetensors, reconstruction.png, metrics.json (and trajectory.safetensors).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readFolderManifest } from '../shared/diffusion/folder-manifest.ts';
import { DiffusionPipeline } from '../shared/diffusion/pipeline/diffusion-pipeline.ts';
import { prepareGradientGraph } from '../shared/diffusion/prepare-gradient-graph.ts';
import { invertImages, type InversionMethod, type ImageResult } from '../shared/inversion/invert-images.ts';
import { DESCENT_DIRECTIONS, type DescentDirection } from '../shared/inversion/methods/preciseinv.ts';
import { etaForSteps } from '../shared/contracts/model-manifest.ts';
import { resolveModel } from './resolve-model.ts';
import { UsageError } from './usage-error.ts';

const METHODS: readonly InversionMethod[] = ['preciseinv', 'ddim', 'fixed-point'];
const DESCENTS = DESCENT_DIRECTIONS;

function number(flag: string, raw: string | undefined, check: (n: number) => boolean, expected: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`--${flag} expects ${expected}, got '${raw}'`);
  return n;
}

/** Output folder names from image names, unique within the run. */
function outputNames(images: string[]): string[] {
  const seen = new Map<string, number>();
  return images.map((img) => {
    const stem = basename(img, extname(img)) || 'image';
    const k = seen.get(stem) ?? 0;
    seen.set(stem, k + 1);
    return k === 0 ? stem : `${stem}-${k + 1}`;
  });
}

function fmt(x: number | null, digits: number): string {
  return x === null ? 'inf' : x.toFixed(digits);
}

export async function invertCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', default: 'tiny' },
      method: { type: 'string' },
      steps: { type: 'string' },
      eta: { type: 'string' },
      'max-iters': { type: 'string' },
      descent: { type: 'string', default: 'hybrid' },
      prompt: { type: 'string', default: '' },
      guidance: { type: 'string' },
      seed: { type: 'string', default: '0' },
      out: { type: 'string', default: 'inversions' },
      batch: { type: 'string', default: '4' },
      trajectory: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length === 0) throw new UsageError('expected one or more image files, e.g. `preciseinv invert photo.png`');
  const model = resolveModel(values.model!);
  const method = (values.method ?? model.defaults.method) as InversionMethod;
  if (!METHODS.includes(method)) throw new UsageError(`--method expects one of ${METHODS.join(', ')}, got '${values.method}'`);
  const descent = values.descent as DescentDirection;
  if (!DESCENTS.includes(descent)) throw new UsageError(`--descent expects one of ${DESCENTS.join(', ')}, got '${values.descent}'`);
  const steps = number('steps', values.steps, (n) => Number.isInteger(n) && n >= 1 && n <= 1000, 'an integer in 1..1000') ?? model.defaults.steps;
  const params = {
    model: model.id,
    method,
    steps,
    eta: number('eta', values.eta, (n) => n > 0, 'a positive number') ?? etaForSteps(model.defaults, steps),
    descent,
    maxIters: number('max-iters', values['max-iters'], (n) => Number.isInteger(n) && n >= 0 && n <= 10000, 'an integer in 0..10000') ?? model.defaults.maxIters,
    guidance: number('guidance', values.guidance, (n) => n >= 0, 'a non-negative number') ?? model.defaults.guidance,
    prompt: values.prompt!,
    seed: number('seed', values.seed, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer')!,
    trajectory: values.trajectory!,
    resolution: model.resolution,
    batchSize: number('batch', values.batch, (n) => Number.isInteger(n) && n >= 1, 'a positive integer')!,
  };

  const missing = positionals.filter((p) => !existsSync(p));
  if (missing.length === positionals.length) throw new UsageError(`no such file: ${missing.join(', ')}`);
  if (method === 'preciseinv' && !readFolderManifest(model.dir)?.gradientGraph) {
    console.error(`preparing the gradient graph of ${model.dir} (once)...`);
    await prepareGradientGraph(model.dir);
  }
  const pipeline = await DiffusionPipeline.open(model.dir);
  const tty = process.stderr.isTTY && !values.json;
  const results: ImageResult[] = [];
  try {
    const images = positionals.map((p) => ({ name: p, bytes: existsSync(p) ? new Uint8Array(readFileSync(p)) : new Uint8Array() }));
    results.push(
      ...(await invertImages(pipeline, images, params, (names, { step, of }) => {
        if (!tty) return;
        const width = 30;
        const done = Math.round((step / of) * width);
        process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] step ${step}/${of} ${names.length > 1 ? `${names.length} images` : basename(names[0]!)}   `);
      })),
    );
  } finally {
    if (tty) process.stderr.write('\n');
    await pipeline.release();
  }

  const outRoot = resolve(values.out!);
  const names = outputNames(positionals);
  let failed = 0;
  results.forEach((r, i) => {
    const outDir = join(outRoot, names[i]!);
    if (!r.ok) {
      failed++;
      if (values.json) console.log(JSON.stringify({ image: r.name, ok: false, error: r.error }));
      else console.error(r.error.includes(r.name) ? r.error : `${r.name}: ${r.error}`);
      return;
    }
    mkdirSync(outDir, { recursive: true });
    for (const [file, bytes] of Object.entries(r.files)) writeFileSync(join(outDir, file), bytes);
    if (values.json) {
      const m = r.metrics;
      console.log(
        JSON.stringify({
          image: r.name, ok: true, method: m.method, steps: m.steps, psnr: m.psnr, ssim: m.ssim, latentRmse: m.latentRmse,
          ceilingPsnr: m.ceilingPsnr, converged: m.converged, modelEvals: m.modelEvals.forward + m.modelEvals.vjp,
          iterations: m.iterations, seconds: m.seconds, outDir,
        }),
      );
    }
  });
  if (!values.json) {
    const ok = results.filter((r): r is Extract<ImageResult, { ok: true }> => r.ok);
    if (ok.length > 0) {
      console.log(`\n${'image'.padEnd(28)} ${'method'.padEnd(11)} steps   PSNR  ceiling   SSIM  latentRMSE  converged  evals  seconds`);
      for (const r of ok) {
        const m = r.metrics;
        console.log(
          `${basename(r.name).slice(0, 28).padEnd(28)} ${m.method.padEnd(11)} ${String(m.steps).padStart(5)} ${fmt(m.psnr, 2).padStart(6)} ${fmt(m.ceilingPsnr, 2).padStart(8)} ` +
            `${m.ssim.toFixed(4)} ${m.latentRmse.toExponential(2).padStart(11)} ${String(m.converged).padStart(10)} ${String(m.modelEvals.forward + m.modelEvals.vjp).padStart(6)} ${m.seconds.toFixed(2).padStart(8)}`,
        );
      }
      console.log(`\noutputs in ${outRoot}/<image>/ (latent.safetensors, reconstruction.png, metrics.json${params.trajectory ? ', trajectory.safetensors' : ''})`);
    }
  }
  return failed > 0 ? 1 : 0;
}
