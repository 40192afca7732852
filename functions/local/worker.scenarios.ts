/**
 * End-to-end scenarios of the API and the worker over one platform (local, or S3 + SQS in the
 * emulator): upload -> notification -> queue -> worker -> results -> presigned downloads, and what
 * happens on duplicates, crashes, shutdowns, poison, cancellation and a batch. Each test file
 * runs them against its platform; the engine is a deterministic stand-in defined here.
 */
import { expect, it } from 'vitest';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Job } from '../../shared/contracts/job.ts';
import type { JobView, PresignedUpload } from '../../shared/contracts/job-view.ts';
import type { JobQueue } from '../../shared/platform/job-queue.ts';
import type { JobStore } from '../../shared/platform/job-store.ts';
import { listAll, type ObjectStore } from '../../shared/platform/object-store.ts';
import type { ApiEnv } from '../api/api-deps.ts';
import { authed, PNG_BYTES } from '../../shared/testing/api-client.ts';
import type { InversionResult, InversionRunner, InversionTask } from '../worker/inversion-runner.ts';
import { QueueWorker, type QueueWorkerOptions } from '../worker/queue-worker.ts';
import { silentLogger } from '../../shared/platform/logger.ts';

export interface ScenarioPlatform {
  app: OpenAPIHono<ApiEnv>;
  objects: ObjectStore;
  jobs: JobStore;
  queue: JobQueue;
  deadLetter: JobQueue;
  /** What a client does with the upload form. */
  upload(upload: PresignedUpload, bytes: Uint8Array): Promise<Response>;
  download(url: string): Promise<Uint8Array>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

/**
 * A stand-in engine: its state after step s is the text "s", its latent names the job and where
 * it resumed from. `gate` lets a test hold a job before a given step.
 */
export class StepRunner implements InversionRunner {
  readonly runs: { jobIds: string[]; resumedAt: (number | undefined)[] }[] = [];
  gate: ((jobId: string, step: number) => Promise<void>) | undefined;
  fail: ((jobId: string) => InversionResult | undefined) | undefined;

  constructor(readonly maxBatchSize = 1) {}

  /** Its jobs share nothing but the step count they walk through. */
  batchKey(job: Job): string {
    return `${job.model}/${job.params.steps}`;
  }

  async run(tasks: readonly InversionTask[]): Promise<InversionResult[]> {
    this.runs.push({ jobIds: tasks.map((t) => t.job.id), resumedAt: tasks.map((t) => t.resume?.step) });
    return Promise.all(tasks.map((task) => this.invert(task)));
  }

  private async invert(task: InversionTask): Promise<InversionResult> {
    const failure = this.fail?.(task.job.id);
    if (failure) return failure;
    const total = task.job.params.steps;
    const from = task.resume ? Number(decode(task.resume.state)) : 0;
    for (let step = from; step < total; step++) {
      await this.gate?.(task.job.id, step);
      if (task.signal.aborted) return { ok: false, retryable: true, error: { code: 'aborted', message: String(task.signal.reason) } };
      await task.onStep({ step: step + 1, totalSteps: total, state: new TextEncoder().encode(String(step + 1)), modelEvals: 2 * (step + 1) });
    }
    const text = `${task.job.id} from ${from}`;
    return {
      ok: true,
      outputs: { latent: new TextEncoder().encode(text), reconstruction: PNG_BYTES },
      metrics: { psnr: 60, ssim: 1, latentRmse: 0, iterations: total, modelEvals: 2 * total, seconds: 0.01 },
    };
  }
}

/** Holds jobs before a step until released, and says when a job reached it. */
function stepGate(atStep: number) {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  let reached!: () => void;
  const reachedPromise = new Promise<void>((r) => (reached = r));
  return {
    gate: async (_jobId: string, step: number) => {
      if (step !== atStep) return;
      reached();
      await opened;
    },
    reached: reachedPromise,
    open: () => open(),
  };
}

/** Cuts a port off as a killed process would be: every later call hangs. */
function severable<T extends object>(port: T): { port: T; sever(): void } {
  let severed = false;
  const proxy = new Proxy(port, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (severed ? new Promise(() => undefined) : value.apply(target, args));
    },
  });
  return { port: proxy, sever: () => (severed = true) };
}

const silent = silentLogger();

export function workerScenarios(makePlatform: (options: { maxReceiveCount: number }) => Promise<ScenarioPlatform>, visibilityTimeoutSeconds: number): void {
  const options: QueueWorkerOptions = { visibilityTimeoutSeconds, waitSeconds: 1, progressIntervalMs: 0, retryDelaySeconds: () => 0 };

  function worker(p: ScenarioPlatform, runner: InversionRunner, overrides: Partial<{ objects: ObjectStore; queue: JobQueue; jobs: JobStore }> = {}): QueueWorker {
    return new QueueWorker({ objects: p.objects, jobs: p.jobs, queue: p.queue, runner, logger: silent, ...overrides }, options);
  }

  async function createAndUpload(p: ScenarioPlatform, body: object = { model: 'tiny', steps: 5 }): Promise<JobView> {
    const response = await p.app.request('/v1/jobs', authed(undefined, { method: 'POST', body: JSON.stringify(body) }));
    expect(response.status).toBe(201);
    const job = (await response.json()) as JobView;
    const uploaded = await p.upload(job.upload!, PNG_BYTES);
    expect(uploaded.status).toBeLessThan(300);
    return job;
  }

  const getJob = async (p: ScenarioPlatform, id: string): Promise<JobView> => (await (await p.app.request(`/v1/jobs/${id}`, authed())).json()) as JobView;

  /** Runs worker cycles until the job reaches a terminal status or the attempts run out. */
  async function until(p: ScenarioPlatform, w: QueueWorker, id: string, cycles = 10): Promise<JobView> {
    for (let i = 0; i < cycles; i++) {
      const job = await getJob(p, id);
      if (['succeeded', 'failed', 'canceled'].includes(job.status)) return job;
      await w.runOnce();
    }
    return getJob(p, id);
  }

  it('runs an uploaded image to results the owner can download', async () => {
    const p = await makePlatform({ maxReceiveCount: 3 });
    const runner = new StepRunner();
    const job = await createAndUpload(p);
    const done = await until(p, worker(p, runner), job.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, progress: { step: 5, totalSteps: 5 }, error: null, metrics: { modelEvals: 10 } });
    expect(Object.keys(done.outputs).sort()).toEqual(['latent', 'metrics', 'reconstruction']);
    expect(decode(await p.download(done.outputs.latent!.url))).toBe(`${job.id} from 0`);
    expect(JSON.parse(decode(await p.download(done.outputs.metrics!.url)))).toMatchObject({ psnr: 60 });
    expect(await listAll(p.objects, `checkpoints/${job.id}/`)).toEqual([]);
    expect(done.timings.finishedAt).not.toBeNull();
  });

  it('runs a job once when its message is delivered twice', async () => {
    const p = await makePlatform({ maxReceiveCount: 3 });
    const runner = new StepRunner();
    const job = await createAndUpload(p);
    await p.queue.send(JSON.stringify({ kind: 'job', jobId: job.id }));
    const w = worker(p, runner);
    await until(p, w, job.id);
    for (let i = 0; i < 3; i++) await w.runOnce();
    expect(runner.runs.flatMap((r) => r.jobIds)).toEqual([job.id]);
    expect(w.counters.duplicateDeliveries).toBe(1);
    expect(await p.queue.receive({ maxMessages: 10, waitSeconds: 0, visibilityTimeoutSeconds: 1 })).toEqual([]);
  });

  it('hides a duplicate from a second worker while the first holds the job', async () => {
    const p = await makePlatform({ maxReceiveCount: 3 });
    const first = new StepRunner();
    const gate = stepGate(2);
    first.gate = gate.gate;
    const job = await createAndUpload(p);
    const a = worker(p, first);
    const running = a.runOnce();
    await gate.reached;
    await p.queue.send(JSON.stringify({ kind: 'job', jobId: job.id }));
    const second = new StepRunner();
    await worker(p, second).runOnce();
    gate.open();
    await running;
    expect(second.runs).toEqual([]);
    expect((await getJob(p, job.id)).status).toBe('succeeded');
  });

  it('resumes a job from its checkpoint after its worker is killed, writing the result once', async () => {
    const p = await makePlatform({ maxReceiveCount: 3 });
    const doomed = new StepRunner();
    const gate = stepGate(3);
    doomed.gate = gate.gate;
    const job = await createAndUpload(p);
    const objects = severable(p.objects);
    const queue = severable(p.queue);
    const jobs = severable(p.jobs);
    void worker(p, doomed, { objects: objects.port, queue: queue.port, jobs: jobs.port }).runOnce();
    await gate.reached;
    for (const port of [objects, queue, jobs]) port.sever();
    gate.open();

    await sleep(visibilityTimeoutSeconds * 1000 + 500);
    const survivor = new StepRunner();
    const done = await until(p, worker(p, survivor), job.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(survivor.runs[0]?.resumedAt).toEqual([3]);
    expect(decode(await p.download(done.outputs.latent!.url))).toBe(`${job.id} from 3`);
  });

  it('on shutdown checkpoints, hands the job back at once, and the next worker resumes it', async () => {
    const p = await makePlatform({ maxReceiveCount: 3 });
    const first = new StepRunner();
    const gate = stepGate(2);
    first.gate = gate.gate;
    const job = await createAndUpload(p);
    const a = worker(p, first);
    const loop = a.start();
    await gate.reached;
    const stopped = a.stop();
    gate.open();
    await stopped;
    await loop;
    expect((await getJob(p, job.id)).status).toBe('queued');
    const next = new StepRunner();
    const done = await until(p, worker(p, next), job.id);
    expect(done.status).toBe('succeeded');
    expect(next.runs[0]?.resumedAt).toEqual([2]);
    expect(a.counters.jobsReleased).toBe(1);
  });

  it('fails a job that keeps failing with the reason, and leaves its message to the dead-letter queue', async () => {
    const p = await makePlatform({ maxReceiveCount: 2 });
    const runner = new StepRunner();
    runner.fail = () => ({ ok: false, retryable: true, error: { code: 'out_of_memory', message: 'device memory exhausted' } });
    const job = await createAndUpload(p);
    const w = worker(p, runner);
    const failed = await until(p, w, job.id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'max_attempts', message: expect.stringContaining('device memory exhausted') } });
    await w.runOnce();
    const [dead] = await p.deadLetter.receive({ maxMessages: 1, waitSeconds: 2, visibilityTimeoutSeconds: 5 });
    expect(dead?.body).toContain(job.id);
  });

  it('fails a bad input at once without retrying', async () => {
    const p = await makePlatform({ maxReceiveCount: 3 });
    const runner = new StepRunner();
    runner.fail = () => ({ ok: false, retryable: false, error: { code: 'invalid_image', message: 'cannot decode the image' } });
    const job = await createAndUpload(p);
    const failed = await until(p, worker(p, runner), job.id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'invalid_image' } });
  });

  it('stops a job canceled while it runs and writes no results', async () => {
    const p = await makePlatform({ maxReceiveCount: 3 });
    const runner = new StepRunner();
    const gate = stepGate(2);
    runner.gate = gate.gate;
    const job = await createAndUpload(p);
    const w = worker(p, runner);
    const running = w.runOnce();
    await gate.reached;
    const canceled = await p.app.request(`/v1/jobs/${job.id}`, authed(undefined, { method: 'DELETE' }));
    expect(((await canceled.json()) as JobView).status).toBe('canceled');
    gate.open();
    await running;
    expect((await getJob(p, job.id)).status).toBe('canceled');
    expect(w.counters.jobsCanceled).toBe(1);
    expect(await listAll(p.objects, `results/${job.id}/`)).toEqual([]);
    expect(await listAll(p.objects, `checkpoints/${job.id}/`)).toEqual([]);
  });

  it('runs a batch of 50 uploads in engine batches of up to 10', async () => {
    const p = await makePlatform({ maxReceiveCount: 3 });
    const created = await p.app.request('/v1/batches', authed(undefined, { method: 'POST', body: JSON.stringify({ model: 'tiny', params: { steps: 2 }, count: 50 }) }));
    const batch = (await created.json()) as { id: string; jobs: JobView[] };
    for (const job of batch.jobs) expect((await p.upload(job.upload!, PNG_BYTES)).status).toBeLessThan(300);
    const runner = new StepRunner(10);
    const w = worker(p, runner);
    for (let i = 0; i < 30 && w.counters.jobsSucceeded < 50; i++) await w.runOnce();
    const view = (await (await p.app.request(`/v1/batches/${batch.id}`, authed())).json()) as { counts: Record<string, number> };
    expect(view.counts).toEqual({ succeeded: 50 });
    expect(runner.runs.flatMap((r) => r.jobIds).sort()).toEqual(batch.jobs.map((j) => j.id).sort());
    expect(Math.max(...runner.runs.map((r) => r.jobIds.length))).toBeGreaterThan(1);
  });

  it('ignores the S3 test event and sends unreadable messages to the dead-letter queue', async () => {
    const p = await makePlatform({ maxReceiveCount: 1 });
    await p.queue.send(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'b' }));
    await p.queue.send('garbage');
    const w = worker(p, new StepRunner());
    // Test event, garbage (released), then the receive that moves garbage to the dead-letter queue.
    for (let i = 0; i < 3; i++) await w.runOnce();
    const dead = await p.deadLetter.receive({ maxMessages: 10, waitSeconds: 2, visibilityTimeoutSeconds: 5 });
    expect(dead.map((m) => m.body)).toEqual(['garbage']);
  });

  it('sets aside a message whose job record cannot be read, and runs the next job', async () => {
    const p = await makePlatform({ maxReceiveCount: 1 });
    const runner = new StepRunner();
    const damaged = await createAndUpload(p);
    await p.objects.put(`jobs/${damaged.id}.json`, new TextEncoder().encode('nope'));
    const healthy = await createAndUpload(p);
    const w = worker(p, runner);
    expect(await until(p, w, healthy.id)).toMatchObject({ status: 'succeeded' });
    expect(runner.runs.flatMap((r) => r.jobIds)).toEqual([healthy.id]);
    for (let i = 0; i < 2; i++) await w.runOnce();
    const dead = await p.deadLetter.receive({ maxMessages: 10, waitSeconds: 2, visibilityTimeoutSeconds: 5 });
    expect(dead.map((m) => m.body).join()).toContain(damaged.id);
  });

  it('leaves no checkpoint behind for a failed job or one canceled while queued', async () => {
    const p = await makePlatform({ maxReceiveCount: 3 });
    const runner = new StepRunner();
    const doomed = await createAndUpload(p);
    const canceled = await createAndUpload(p);
    // Checkpoints of an earlier attempt of each.
    for (const job of [doomed, canceled]) await p.objects.put(`checkpoints/${job.id}/step-000002-of-000005`, new TextEncoder().encode('2'));
    runner.fail = (id) => (id === doomed.id ? { ok: false, retryable: false, error: { code: 'invalid_image', message: 'not decodable' } } : undefined);
    expect((await p.app.request(`/v1/jobs/${canceled.id}`, authed(undefined, { method: 'DELETE' }))).status).toBe(200);
    const w = worker(p, runner);
    expect(await until(p, w, doomed.id)).toMatchObject({ status: 'failed' });
    for (let i = 0; i < 2; i++) await w.runOnce();
    expect(runner.runs.flatMap((r) => r.jobIds)).toEqual([doomed.id]);
    expect(await listAll(p.objects, 'checkpoints/')).toEqual([]);
  });

  it('fails a job that runs past its timeout with code timeout, and keeps its checkpoint', async () => {
    const p = await makePlatform({ maxReceiveCount: 3 });
    const runner = new StepRunner();
    const held = stepGate(2);
    runner.gate = held.gate;
    const timers: { ms: number; fire: () => void; canceled: boolean }[] = [];
    const startTimer = (ms: number, fire: () => void) => {
      const timer = { ms, fire, canceled: false };
      timers.push(timer);
      return () => void (timer.canceled = true);
    };
    const w = new QueueWorker({ objects: p.objects, jobs: p.jobs, queue: p.queue, runner, logger: silent, startTimer }, { ...options, jobTimeoutSeconds: 600 });
    const job = await createAndUpload(p);
    const cycle = w.runOnce();
    await held.reached;
    expect(timers.map((t) => t.ms)).toEqual([600_000]);
    timers[0]!.fire();
    held.open();
    await cycle;
    const done = await getJob(p, job.id);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'timeout', message: expect.stringContaining('600 s') } });
    expect(await listAll(p.objects, `checkpoints/${job.id}/`)).toEqual([`checkpoints/${job.id}/step-000002-of-000005`]);
    expect(timers[0]!.canceled).toBe(true);
    for (let i = 0; i < 2; i++) await w.runOnce();
    expect(runner.runs).toHaveLength(1);
  });
}
