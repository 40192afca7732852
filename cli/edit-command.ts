/**
 * `preciseinv edit <latent.safetensors>`: renders an inverted latent again with its recorded
 * sampler and a new prompt (or the recorded one, which gives back the reconstruction), from x_T
 * or, with --from-step K, from x_K of the inversion's trajectory. Writes DIR/render.png and
 * DIR/render.json (the settings it ran with).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { encodePng } from '../shared/diffusion/image/encode-png.ts';
import { render, type RenderOptions } from '../shared/editing/render.ts';
import { InversionParams } from '../shared/contracts/job-request.ts';
import { latentModel, readLatentArg } from './latent-input.ts';
import { defineCommand, flag, value } from './options/command-spec.ts';
import { withPipeline } from './with-pipeline.ts';
import { UsageError } from './usage-error.ts';

// Options that are request fields take the API's own schema, as `invert`'s do.
const fields = InversionParams.shape;

export const editCommand = defineCommand(
  {
    name: 'edit',
    positionals: '<latent.safetensors>',
    summary: 'Renders an inverted latent again with its recorded sampler and a new prompt (the recorded one gives back the reconstruction), from x_T or from x_K of its trajectory; writes render.png and render.json under --out.',
    options: {
      prompt: value('P', fields.prompt, 'text conditioning (default: the inversion\'s)'),
      'negative-prompt': value('N', fields.prompt, 'negative text conditioning (default: the inversion\'s)'),
      guidance: value('W', fields.guidance, 'classifier-free guidance weight (default: the inversion\'s)'),
      'from-step': value('K', z.number().int().min(1), 'start from x_K of the trajectory instead of x_T (K in 1..T: the edit strength)'),
      steps: value('T', fields.steps, 'sampler steps (default: the inversion\'s)'),
      seed: value('S', z.number().int().min(0), 'seed of a stochastic sampler\'s noise (default: the inversion\'s)'),
      trajectory: value('FILE', z.string().min(1), 'the trajectory file (default: trajectory.safetensors beside the latent)'),
      model: value('M', z.string().min(1), 'a registry id or model folder (default: the latent\'s model)'),
      out: value('DIR', z.string().min(1).default('edits'), 'output folder'),
      json: flag('print one JSON object instead of the summary line'),
    },
  },
  async ({ values, positionals }) => {
    if (positionals.length !== 1) throw new UsageError(`expected one latent file, e.g. \`preciseinv edit inversions/photo/latent.safetensors --prompt "..."\`, got ${positionals.length}`);
    const options: RenderOptions = {};
    if (values.prompt !== undefined) options.prompt = values.prompt;
    if (values['negative-prompt'] !== undefined) options.negativePrompt = values['negative-prompt'];
    if (values.guidance !== undefined) options.guidance = values.guidance;
    const steps = values.steps;
    if (steps !== undefined) options.steps = steps;
    if (values.seed !== undefined) options.seed = values.seed;
    const fromStep = values['from-step'];

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

    const { result: out, seconds } = await withPipeline(model.dir, values.json, (pipeline, bar) =>
      render(pipeline, source, { ...options, onStep: (done, of) => bar.update(done, of, 'step') }),
    );
    const outDir = resolve(values.out!);
    mkdirSync(outDir, { recursive: true });
    const png = join(outDir, 'render.png');
    writeFileSync(png, await encodePng(out.pixels, out.width, out.height));
    const record = { source: resolve(positionals[0]!), model: source.meta.model, sampler: source.meta.sampler, ...out.settings, seconds };
    writeFileSync(join(outDir, 'render.json'), `${JSON.stringify(record, null, 2)}\n`);
    if (values.json) console.log(JSON.stringify({ ok: true, png, ...record }));
    else console.log(`rendered ${out.width}x${out.height} from step ${out.settings.fromStep}/${out.settings.steps} (prompt ${JSON.stringify(out.settings.prompt)}, guidance ${out.settings.guidance}) in ${seconds.toFixed(2)} s: ${png}`);
    return 0;
  },
);
