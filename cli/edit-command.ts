/**
 * `preciseinv edit <latent.safetensors>`: renders an inverted latent again with its recorded
 * sampler and a new prompt (or the recorded one, which gives back the reconstruction), from x_T
 * or, with --from-step K, from x_K of the inversion's trajectory. Writes DIR/render.png and
 * DIR/render.json (the settings it ran with).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DiffusionPipeline } from '../shared/diffusion/pipeline/diffusion-pipeline.ts';
import { encodePng } from '../shared/diffusion/image/encode-png.ts';
import { render, type RenderOptions } from '../shared/editing/render.ts';
import { latentModel, readLatentArg } from './latent-input.ts';
import { progressBar } from './progress-bar.ts';
import { UsageError } from './usage-error.ts';

export const EDIT_USAGE = 'edit <latent.safetensors> [--prompt P] [--negative-prompt N] [--guidance W] [--from-step K] [--steps T] [--seed S] [--trajectory FILE] [--model M] [--out DIR] [--json]';

function number(flag: string, raw: string | undefined, check: (n: number) => boolean, expected: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${flag} expects ${expected}, got '${raw}'`);
  return n;
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        prompt: { type: 'string' },
        'negative-prompt': { type: 'string' },
        guidance: { type: 'string' },
        'from-step': { type: 'string' },
        steps: { type: 'string' },
        seed: { type: 'string' },
        trajectory: { type: 'string' },
        model: { type: 'string' },
        out: { type: 'string', default: 'edits' },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export async function editCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (positionals.length !== 1) throw new UsageError(`expected one latent file, e.g. \`preciseinv edit inversions/photo/latent.safetensors --prompt "..."\`, got ${positionals.length}`);
  const options: RenderOptions = {};
  if (values.prompt !== undefined) options.prompt = values.prompt;
  if (values['negative-prompt'] !== undefined) options.negativePrompt = values['negative-prompt'];
  const guidance = number('guidance', values.guidance, (n) => n >= 0, 'a non-negative number');
  if (guidance !== undefined) options.guidance = guidance;
  const steps = number('steps', values.steps, (n) => Number.isInteger(n) && n >= 1 && n <= 1000, 'an integer in 1..1000');
  if (steps !== undefined) options.steps = steps;
  const seed = number('seed', values.seed, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
  if (seed !== undefined) options.seed = seed;
  const fromStep = number('from-step', values['from-step'], (n) => Number.isInteger(n) && n >= 1, 'a step number in 1..T (T: the inversion\'s steps)');

  const probe = readLatentArg(positionals[0]!);
  const T = probe.meta.steps;
  if (fromStep !== undefined && fromStep > T) throw new UsageError(`--from-step expects a step number in 1..${T} (the latent was inverted in ${T} steps), got '${values['from-step']}'`);
  if (fromStep !== undefined && steps !== undefined && steps !== T && fromStep !== steps) {
    throw new UsageError(`--from-step needs the inversion's own ${T} steps; drop --steps or --from-step`);
  }
  if (fromStep !== undefined) options.fromStep = fromStep;
  const needsTrajectory = fromStep !== undefined && fromStep < T;
  const source = needsTrajectory ? readLatentArg(positionals[0]!, { ...(values.trajectory ? { path: values.trajectory } : {}), required: true }) : probe;
  const model = latentModel(source, values.model);

  const pipeline = await DiffusionPipeline.open(model.dir);
  const bar = progressBar(process.stderr.isTTY && !values.json);
  const started = performance.now();
  let out: Awaited<ReturnType<typeof render>>;
  try {
    out = await render(pipeline, source, { ...options, onStep: (done, of) => bar.update(done, of, 'step') });
  } finally {
    bar.end();
    await pipeline.release();
  }
  const seconds = (performance.now() - started) / 1000;
  const outDir = resolve(values.out!);
  mkdirSync(outDir, { recursive: true });
  const png = join(outDir, 'render.png');
  writeFileSync(png, await encodePng(out.pixels, out.width, out.height));
  const record = { source: resolve(positionals[0]!), model: source.meta.model, sampler: source.meta.sampler, ...out.settings, seconds };
  writeFileSync(join(outDir, 'render.json'), `${JSON.stringify(record, null, 2)}\n`);
  if (values.json) console.log(JSON.stringify({ ok: true, png, ...record }));
  else console.log(`rendered ${out.width}x${out.height} from step ${out.settings.fromStep}/${out.settings.steps} (prompt ${JSON.stringify(out.settings.prompt)}, guidance ${out.settings.guidance}) in ${seconds.toFixed(2)} s: ${png}`);
  return 0;
}
