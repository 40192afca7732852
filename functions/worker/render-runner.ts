/**
 * Runs a render or interpolation job on an opened pipeline (shared/editing): the sources are read
 * and checked first, so a latent that cannot be rendered fails as invalid input and is never
 * retried; a fault while rendering is retryable.
 */
import { DiffusionPipeline } from '../../shared/diffusion/pipeline/diffusion-pipeline.ts';
import { encodePng } from '../../shared/diffusion/image/encode-png.ts';
import { animatedWebp } from '../../shared/editing/animated-webp.ts';
import { contactSheetPng } from '../../shared/editing/contact-sheet.ts';
import { checkInterpolable, interpolate } from '../../shared/editing/interpolate.ts';
import { readInvertedLatent, type InvertedLatent } from '../../shared/editing/inverted-latent.ts';
import { fromStepForStrength, render, renderPlan, renderSettings, type RenderOptions } from '../../shared/editing/render.ts';
import type { RenderTask, RenderTaskResult } from './render-task.ts';

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

type RenderFiles = Extract<RenderTaskResult, { ok: true }>['files'];

export async function runRenderTask(pipeline: DiffusionPipeline, task: RenderTask): Promise<RenderTaskResult> {
  const work = task.job.render;
  if (!work) return { ok: false, retryable: false, error: { code: 'invalid_input', message: `job '${task.job.id}' is not a render or interpolation job` } };
  let prepared: () => Promise<RenderFiles>;
  let total: number;
  let evals = 0;
  const started = performance.now();
  try {
    const ids = work.kind === 'render' ? [work.source.job] : work.sources.map((x) => x.job);
    const sources: InvertedLatent[] = task.sources.map((s, k) => readInvertedLatent(s.latent, s.trajectory, { latent: `the latent of job '${ids[k]}'`, trajectory: `the trajectory of job '${ids[k]}'` }));
    if (work.kind === 'render') {
      const source = sources[0]!;
      const options: RenderOptions = {
        ...(work.prompt !== undefined ? { prompt: work.prompt } : {}),
        ...(work.negativePrompt !== undefined ? { negativePrompt: work.negativePrompt } : {}),
        ...(work.guidance !== undefined ? { guidance: work.guidance } : {}),
        fromStep: fromStepForStrength(work.strength, source.meta.steps),
      };
      const settings = renderSettings(pipeline, source, options);
      renderPlan(pipeline, source, settings.steps);
      total = settings.fromStep;
      prepared = async () => {
        const out = await render(pipeline, source, { ...options, signal: task.signal, onStep: (done) => task.onProgress(done, total) });
        evals = total;
        return { image: await encodePng(out.pixels, out.width, out.height) };
      };
    } else {
      const [a, b] = sources as [InvertedLatent, InvertedLatent];
      checkInterpolable(a, b, [`job '${work.sources[0].job}'`, `job '${work.sources[1].job}'`]);
      renderPlan(pipeline, a, renderSettings(pipeline, a).steps);
      const steps = a.meta.steps;
      total = work.frames * steps;
      prepared = async () => {
        const { frames } = await interpolate(pipeline, a, b, { frames: work.frames, mode: work.mode, signal: task.signal, onFrame: (done) => task.onProgress(done * steps, total) });
        evals = total;
        return { contactSheet: await contactSheetPng(frames), animation: await animatedWebp(frames) };
      };
    }
  } catch (error) {
    return { ok: false, retryable: false, error: { code: 'invalid_input', message: errorText(error) } };
  }
  try {
    const files = await prepared();
    return { ok: true, files, modelEvals: evals, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    if (task.signal.aborted) return { ok: false, retryable: true, error: { code: 'aborted', message: `aborted: ${String(task.signal.reason)}` } };
    return { ok: false, retryable: true, error: { code: 'engine_error', message: errorText(error) } };
  }
}
