import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/contracts/job.ts';
import { writePixelSpaceFolder } from '../../shared/diffusion/testing/synthetic-folder.ts';
import { decodeLatentFile } from '../../shared/inversion/outputs/latent-file.ts';
import { newJobRecord } from '../../shared/contracts/new-job-record.ts';
import { decodeCheckpoint, encodeCheckpoint } from './engine-checkpoint.ts';
import { EngineRunner } from './engine-runner.ts';
import type { Checkpoint, InversionResult, InversionTask, StepCheckpoint } from './inversion-runner.ts';
import { gradientPng } from '../../shared/diffusion/testing/gradient-png.ts';
import type { StepRecord } from '../../shared/inversion/step-record.ts';
import { silentLogger } from '../../shared/platform/logger.ts';

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
    runner = new EngineRunner({ modelDirs: { tiny: writePixelSpaceFolder() }, maxBatchSize: 2, logger: silentLogger(), executionProviders: { providers: ['cpu'], reason: 'test' } });
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

  it('honours each job’s outputs inside one call: a job asking for the trajectory gets it, its neighbour does not', async () => {
    const plain = task(job('job-plain-13', { outputs: ['latent', 'reconstruction', 'metrics'] }), image);
    const withTrajectory = task(job('job-traj-13'), image);
    const [a, b] = await runner.run([plain, withTrajectory]);
    expect(ok(a).outputs.trajectory).toBeUndefined();
    expect(ok(b).outputs.trajectory).toBeDefined();
    expect(runner.batchKey(plain.job)).not.toBe(runner.batchKey(withTrajectory.job));
    expect(runner.batchKey(job('p1', { prompt: 'a cat' }))).not.toBe(runner.batchKey(job('p2', { prompt: 'a dog' })));
  });

  it('discards a checkpoint that does not fit (latent size, model, parameters) and inverts from the start; its batch-mate runs', async () => {
    const whole = ok((await runner.run([task(job('job-fresh-4'), image)]))[0]);
    const record = (n: number): StepRecord[] => Array.from({ length: n }, (_, i) => ({ step: i + 1, timestep: i, iterations: 1, forwardEvals: 1, vjpEvals: 1, residual: 0, converged: true }));
    const wrongSize = encodeCheckpoint({ completedSteps: 2, latent: new Float32Array(7), trajectory: [new Float32Array(7), new Float32Array(7)], records: record(2) }, {
      model: 'tiny', runKey: runner.batchKey(job('x')), latentLength: 7, withTrajectory: true,
    });
    const rightSize = 3 * 64 * 64;
    const otherModel = encodeCheckpoint({ completedSteps: 2, latent: new Float32Array(rightSize), trajectory: [new Float32Array(rightSize), new Float32Array(rightSize)], records: record(2) }, {
      model: 'sd15', runKey: runner.batchKey(job('x')), latentLength: rightSize, withTrajectory: true,
    });
    const otherParams = encodeCheckpoint({ completedSteps: 2, latent: new Float32Array(rightSize), trajectory: [new Float32Array(rightSize), new Float32Array(rightSize)], records: record(2) }, {
      model: 'tiny', runKey: runner.batchKey(job('x', { eta: 1e-2 })), latentLength: rightSize, withTrajectory: true,
    });
    for (const [name, state] of [['size', wrongSize], ['model', otherModel], ['params', otherParams]] as const) {
      const planted = task(job(`job-planted-${name}-4`), image, { resume: { step: 2, totalSteps: 4, state } });
      const mate = task(job(`job-mate-${name}-4`), image);
      const [p, m] = await runner.run([planted, mate]);
      expect(planted.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
      expect(Buffer.from(ok(p).outputs.latent).equals(Buffer.from(whole.outputs.latent))).toBe(true);
      expect(Buffer.from(ok(m).outputs.latent).equals(Buffer.from(whole.outputs.latent))).toBe(true);
    }
  });

  it('fails a task whose batch throws alone: its batch-mate still finishes', async () => {
    const broken = task(job('job-broken-4'), image, { onStep: async () => { throw new Error('checkpoint write refused'); } });
    const mate = task(job('job-fine-4'), image);
    const [b, m] = await runner.run([broken, mate]);
    expect(b).toMatchObject({ ok: false, retryable: true, error: { code: 'engine_error', message: expect.stringContaining('checkpoint write refused') } });
    expect(ok(m).outputs.latent.length).toBeGreaterThan(0);
  });

  it('stops inside a timestep once its signal aborts: the running step neither finishes nor checkpoints', async () => {
    const controller = new AbortController();
    const cut = task(job('job-midstep-2', { steps: 4 }), image, {
      signal: controller.signal,
      // Fires on the first turn of the event loop after step 1's checkpoint, while step 2's descent runs.
      onStep: async (s) => {
        cut.steps.push(s);
        if (s.step === 1) setImmediate(() => controller.abort('canceled'));
      },
    });
    const [r] = await runner.run([cut]);
    expect(r).toMatchObject({ ok: false, retryable: true, error: { code: 'aborted' } });
    expect(cut.steps.map((s) => s.step)).toEqual([1]);
  });

  it('fails jobs for a model it has no folder for, without retrying', async () => {
    const [r] = await runner.run([task({ ...job('job-sd15-1'), model: 'sd15' }, image)]);
    expect(r).toMatchObject({ ok: false, retryable: false, error: { code: 'model_unavailable' } });
  });
});
