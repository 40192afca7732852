import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/contracts/job.ts';
import { writePixelSpaceFolder } from '../../shared/diffusion/testing/synthetic-folder.ts';
import { decodeLatentFile } from '../../shared/inversion/outputs/latent-file.ts';
import { newJobRecord } from '../api/job-records.ts';
import { decodeCheckpoint, EngineRunner } from './engine-runner.ts';
import type { Checkpoint, InversionResult, InversionTask, StepCheckpoint } from './inversion-runner.ts';
import { gradientPng } from '../../shared/diffusion/testing/gradient-png.ts';
import { jsonLogger } from './worker-logger.ts';

function job(id: string, params: Partial<Job['params']> = {}): Job {
  return {
    ...newJobRecord({
      id,
      owner: 'k',
      model: 'tiny',
      batchId: null,
      params: { method: 'preciseinv', steps: 4, eta: 1e-4, maxIters: 30, guidance: 1, prompt: '', outputs: ['latent', 'trajectory', 'reconstruction', 'metrics'], ...params },
      input: { key: `uploads/tiny/${id}/input`, contentType: 'image/png' },
      webhook: null,
      status: 'queued',
      requestHash: 'h',
      now: new Date(),
    }),
    status: 'running',
  };
}

function task(j: Job, image: Uint8Array, extra: Partial<InversionTask> = {}): InversionTask & { steps: StepCheckpoint[] } {
  const steps: StepCheckpoint[] = [];
  return { job: j, image, signal: new AbortController().signal, onStep: async (s) => void steps.push(s), steps, ...extra };
}

const ok = (r: InversionResult | undefined) => {
  if (!r?.ok) throw new Error(`expected success, got ${JSON.stringify(r)}`);
  return r;
};

describe('the engine runner on a pixel-space model folder', () => {
  let runner: EngineRunner;
  let image: Uint8Array;
  beforeAll(async () => {
    runner = new EngineRunner({ modelDirs: { tiny: writePixelSpaceFolder() }, maxBatchSize: 2, logger: jsonLogger({}, () => undefined), executionProviders: { providers: ['cpu'], reason: 'test' } });
    image = await gradientPng(70, 64, 0.5);
  });
  afterAll(async () => runner.close());

  it('inverts a batch, checkpoints every step, and fails an unreadable image alone without retry', async () => {
    const good = task(job('job-good-1'), image);
    const bad = task(job('job-bad-1'), new Uint8Array([1, 2, 3]));
    const [a, b] = await runner.run([good, bad]);
    const result = ok(a);
    expect(b).toMatchObject({ ok: false, retryable: false, error: { code: 'invalid_image', message: expect.stringContaining('job-bad-1') } });
    expect(good.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
    expect(good.steps.every((s) => s.totalSteps === 4)).toBe(true);
    expect(decodeCheckpoint(good.steps[3]!.state).completedSteps).toBe(4);
    const latent = decodeLatentFile(result.outputs.latent);
    expect(latent.dims).toEqual([3, 64, 64]);
    const metrics = JSON.parse(new TextDecoder().decode(result.outputs.metrics!));
    expect(metrics).toMatchObject({ converged: true, steps: 4, method: 'preciseinv' });
    expect(result.metrics.psnr).toBeGreaterThan(40);
    expect(result.outputs.trajectory).toBeDefined();
    expect(result.metrics.modelEvals).toBe(metrics.modelEvals.forward + metrics.modelEvals.vjp);
  });

  it('stops at the step its signal aborts, and resumed from that checkpoint gives the uninterrupted result', async () => {
    const whole = ok((await runner.run([task(job('job-whole-1'), image)]))[0]);

    const controller = new AbortController();
    let checkpoint: Checkpoint | undefined;
    const interrupted = task(job('job-cut-1'), image, {
      signal: controller.signal,
      onStep: async (s) => {
        checkpoint = s;
        if (s.step === 2) controller.abort('shutdown');
      },
    });
    const [cut] = await runner.run([interrupted]);
    expect(cut).toMatchObject({ ok: false, retryable: true, error: { code: 'aborted' } });
    expect(checkpoint?.step).toBe(2);

    const resumed = task(job('job-cut-1'), image, { resume: checkpoint! });
    const after = ok((await runner.run([resumed]))[0]);
    expect(resumed.steps.map((s) => s.step)).toEqual([3, 4]);
    expect(Buffer.from(after.outputs.latent).equals(Buffer.from(whole.outputs.latent))).toBe(true);
    expect(Buffer.from(after.outputs.trajectory!).equals(Buffer.from(whole.outputs.trajectory!))).toBe(true);
    expect(Buffer.from(after.outputs.reconstruction!).equals(Buffer.from(whole.outputs.reconstruction!))).toBe(true);
    const strip = (m: Uint8Array) => ({ ...JSON.parse(new TextDecoder().decode(m)), seconds: 0, image: '' });
    expect(strip(after.outputs.metrics!)).toEqual(strip(whole.outputs.metrics!));
    expect({ ...after.metrics, seconds: 0 }).toEqual({ ...whole.metrics, seconds: 0 });
  });

  it('fails jobs for a model it has no folder for, without retrying', async () => {
    const [r] = await runner.run([task({ ...job('job-sd15-1'), model: 'sd15' }, image)]);
    expect(r).toMatchObject({ ok: false, retryable: false, error: { code: 'model_unavailable' } });
  });
});
