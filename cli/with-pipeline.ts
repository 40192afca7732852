/**
 * Opens a model folder's pipeline, runs `work` with a progress bar (on a terminal, unless --json),
 * and releases both however it ends; resolves to the work's result and its seconds.
 */
import { DiffusionPipeline } from '../shared/diffusion/pipeline/diffusion-pipeline.ts';
import { progressBar } from './progress-bar.ts';

type Progress = ReturnType<typeof progressBar>;

export async function withPipeline<T>(dir: string, json: boolean, work: (pipeline: DiffusionPipeline, bar: Progress) => Promise<T>): Promise<{ result: T; seconds: number }> {
  const pipeline = await DiffusionPipeline.open(dir);
  const bar = progressBar(process.stderr.isTTY && !json);
  const started = performance.now();
  try {
    const result = await work(pipeline, bar);
    return { result, seconds: (performance.now() - started) / 1000 };
  } finally {
    bar.end();
    await pipeline.release();
  }
}
