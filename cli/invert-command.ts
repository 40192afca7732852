/**
 * `preciseinv invert <images...>`: inverts images with a model and writes, per image, a folder
 * with latent.safetensors, reconstruction.png, metrics.json (and trajectory.safetensors).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { z } from 'zod';
import { readFolderManifest } from '../shared/diffusion/folder-manifest.ts';
import { DiffusionPipeline } from '../shared/diffusion/pipeline/diffusion-pipeline.ts';
import { prepareGradientGraph } from '../shared/diffusion/prepare-gradient-graph.ts';
import { invertImages, type ImageResult } from '../shared/inversion/invert-images.ts';
import { DESCENT_DIRECTIONS } from '../shared/inversion/methods/preciseinv.ts';
import { InversionParams } from '../shared/contracts/job-request.ts';
import { etaForSteps } from '../shared/contracts/model-manifest.ts';
import { defineCommand, flag, value } from './options/command-spec.ts';
import { resolveModel } from './resolve-model.ts';
import { UsageError } from './usage-error.ts';

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

// Options that are request fields take the API's own schema (InversionParams), so both accept the same values.
const fields = InversionParams.shape;

export const invertCommand = defineCommand(
  {
    name: 'invert',
    positionals: '<images...>',
    summary: 'Inverts images with a model; per image writes latent.safetensors, reconstruction.png, metrics.json (and trajectory.safetensors) under --out.',
    options: {
      model: value('M', z.string().min(1).default('tiny'), 'a registry id or an Optimum-layout ONNX folder'),
      method: value('METHOD', fields.method, "inversion method (default: the model's)"),
      steps: value('T', fields.steps, "sampler steps (default: the model's)"),
      eta: value('E', fields.eta, "stop threshold on each step's mean squared residual (default: the model's, scaled to --steps)"),
      'max-iters': value('K', fields.maxIters, "iteration cap per step (default: the model's)"),
      descent: value('DESCENT', z.enum(DESCENT_DIRECTIONS).default('hybrid'), 'how each step is solved'),
      prompt: value('P', fields.prompt.default(''), 'text conditioning'),
      guidance: value('W', fields.guidance, "classifier-free guidance weight (default: the model's)"),
      seed: value('S', z.number().int().min(0).default(0), 'seed of the random initial directions'),
      batch: value('N', z.number().int().min(1).default(4), 'images run together through the model'),
      trajectory: flag('also write trajectory.safetensors (x_1..x_T)'),
      out: value('DIR', z.string().min(1).default('inversions'), 'output folder'),
      json: flag('print one JSON object per image instead of the table'),
    },
  },
  async ({ values, positionals }) => {
    if (positionals.length === 0) throw new UsageError('expected one or more image files, e.g. `preciseinv invert photo.png`');
    const model = resolveModel(values.model);
    const method = values.method ?? model.defaults.method;
    const descent = values.descent;
    const steps = values.steps ?? model.defaults.steps;
    const params = {
      model: model.id,
      method,
      steps,
      eta: values.eta ?? etaForSteps(model.defaults, steps),
      descent,
      maxIters: values['max-iters'] ?? model.defaults.maxIters,
      guidance: values.guidance ?? model.defaults.guidance,
      prompt: values.prompt,
      seed: values.seed,
      trajectory: values.trajectory,
      resolution: model.resolution,
      batchSize: values.batch,
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

    const outRoot = resolve(values.out);
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
  },
);
