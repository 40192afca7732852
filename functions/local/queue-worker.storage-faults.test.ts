/**
 * A claimed job must always settle, also when the bucket fails while the worker reads the input
 * or the checkpoint: the message goes back for a retry (or, on its last attempt, the job fails
 * with the reason), heartbeats stop and the task's scale-in protection is lifted.
 */
import { describe, expect, it } from 'vitest';
import type { JobView } from '../../shared/contracts/job-view.ts';
import type { JobQueue } from '../../shared/platform/job-queue.ts';
import type { ObjectStore } from '../../shared/platform/object-store.ts';
import { localApi } from '../api/testing/local-api.ts';
import { authed, PNG_BYTES, uploadForm } from '../../shared/testing/api-client.ts';
import { QueueWorker } from '../worker/queue-worker.ts';
import type { JobGuard } from '../worker/task-protection.ts';
import { StepRunner } from './worker.scenarios.ts';
import { silentLogger } from '../../shared/platform/logger.ts';

const BASE = 'http://127.0.0.1:8080';

/** The bucket as a worker sees it during an outage of some operations: `failing` decides which calls throw. */
class FlakyObjects implements ObjectStore {
  failing: ((operation: 'get' | 'list', key: string) => boolean) | undefined;
  constructor(private readonly inner: ObjectStore) {}
  private check(operation: 'get' | 'list', key: string): void {
    if (this.failing?.(operation, key)) throw new Error(`ServiceUnavailable: ${operation} '${key}' timed out`);
  }
  async get(key: string) {
    this.check('get', key);
    return this.inner.get(key);
  }
  list(prefix: string): AsyncIterable<string> {
    this.check('list', prefix);
    return this.inner.list(prefix);
  }
  getToFile: ObjectStore['getToFile'] = (...args) => this.inner.getToFile(...args);
  put: ObjectStore['put'] = (...args) => this.inner.put(...args);
  head: ObjectStore['head'] = (...args) => this.inner.head(...args);
  delete: ObjectStore['delete'] = (...args) => this.inner.delete(...args);
  presignPost: ObjectStore['presignPost'] = (...args) => this.inner.presignPost(...args);
  presignGet: ObjectStore['presignGet'] = (...args) => this.inner.presignGet(...args);
}

/** Counts visibility extensions, the heartbeat's footprint on the queue. */
function countingQueue(inner: JobQueue): { queue: JobQueue; extensions: () => number } {
  let extensions = 0;
  const queue: JobQueue = {
    send: (body) => inner.send(body),
    sendMany: (bodies) => inner.sendMany(bodies),
    receive: (options) => inner.receive(options),
    delete: (handle) => inner.delete(handle),
    changeVisibility: async (handle, seconds) => {
      if (seconds > 0) extensions++;
      return inner.changeVisibility(handle, seconds);
    },
    maxReceiveCount: () => inner.maxReceiveCount(),
  };
  return { queue, extensions: () => extensions };
}

class CountingGuard implements JobGuard {
  inFlight = 0;
  jobStarted(): void {
    this.inFlight++;
  }
  jobSettled(): void {
    this.inFlight--;
  }
  renew(): void {}
}

async function setup(jobCount = 1) {
  const api = await localApi();
  const jobs: JobView[] = [];
  for (let i = 0; i < jobCount; i++) {
    const created = await api.app.request('/v1/jobs', authed(undefined, { method: 'POST', body: JSON.stringify({ model: 'tiny', steps: 3 }) }));
    const job = (await created.json()) as JobView;
    const uploaded = await api.app.request(job.upload!.url.slice(BASE.length), { method: 'POST', body: uploadForm(job.upload!.fields, PNG_BYTES) });
    expect(uploaded.status).toBeLessThan(300);
    jobs.push(job);
  }
  const objects = new FlakyObjects(api.platform.objects);
  const { queue, extensions } = countingQueue(api.platform.queueFor('tiny'));
  const guard = new CountingGuard();
  const runner = new StepRunner(4);
  const worker = new QueueWorker(
    { objects, jobs: api.platform.jobs, queue, runner, logger: silentLogger(), taskProtection: guard },
    // An empty poll lasts 0.3 s: several heartbeats, which would touch any job left claimed.
    { visibilityTimeoutSeconds: 30, waitSeconds: 0.3, heartbeatSeconds: 0.05, progressIntervalMs: 0, retryDelaySeconds: () => 0 },
  );
  const get = async (id: string) => (await api.platform.jobs.get(id))!.value;
  /** A poll of an empty queue long enough for several heartbeats: any extension means a job was left claimed. */
  const idleExtensions = async (): Promise<number> => {
    const before = extensions();
    await worker.runOnce();
    return extensions() - before;
  };
  return { api, jobs, objects, worker, guard, runner, get, idleExtensions };
}

describe('a worker whose bucket fails during a job', () => {
  it('hands the job back for a retry when the input cannot be read, and keeps nothing claimed', async () => {
    const t = await setup();
    const [job] = t.jobs;
    t.objects.failing = (op, key) => op === 'get' && key === job!.input.key;
    await expect(t.worker.runOnce()).resolves.toBe(1);
    expect(await t.get(job!.id)).toMatchObject({
      status: 'queued',
      lease: null,
      attempts: 1,
      error: { code: 'storage_error', message: expect.stringContaining(`reading the input image '${job!.input.key}' failed`) },
    });
    expect(t.guard.inFlight).toBe(0);
    expect(t.worker.counters.jobsReleased).toBe(1);

    // The outage is over: the released message comes back at once and the job runs.
    t.objects.failing = undefined;
    await t.worker.runOnce();
    expect(await t.get(job!.id)).toMatchObject({ status: 'succeeded', attempts: 2, error: null });
    expect(t.guard.inFlight).toBe(0);
    expect(await t.idleExtensions()).toBe(0);
  });

  it('hands the job back when its checkpoint cannot be read', async () => {
    const t = await setup();
    const [job] = t.jobs;
    t.objects.failing = (op, key) => key.startsWith(`checkpoints/${job!.id}/`);
    await t.worker.runOnce();
    expect(await t.get(job!.id)).toMatchObject({ status: 'queued', error: { code: 'storage_error', message: expect.stringContaining(`checkpoints/${job!.id}/`) } });
    expect(t.guard.inFlight).toBe(0);
    expect(t.runner.runs).toEqual([]);
    expect(await t.idleExtensions()).toBe(0);
  });

  it('fails the job with the reason on its last attempt', async () => {
    const t = await setup();
    const [job] = t.jobs;
    t.objects.failing = (op, key) => op === 'get' && key === job!.input.key;
    // The local queue's redrive maximum is 3 receives.
    for (let attempt = 1; attempt <= 3; attempt++) await t.worker.runOnce();
    const failed = await t.get(job!.id);
    expect(failed).toMatchObject({ status: 'failed', lease: null, attempts: 3, error: { code: 'max_attempts' } });
    expect(failed.error!.message).toMatch(/gave up after 3 attempts; last error \(storage_error\): reading the input image '.*' failed: ServiceUnavailable/);
    expect(failed.timings.finishedAt).not.toBeNull();
    expect(t.guard.inFlight).toBe(0);
    expect(t.worker.counters).toMatchObject({ jobsReleased: 2, jobsFailed: 1 });
    // Its message is left to the dead-letter queue, which the next receive moves it to.
    await t.worker.runOnce();
    expect(t.api.platform.deadLetters.get('tiny')!.bodies().join()).toContain(job!.id);
    expect(await t.idleExtensions()).toBe(0);
  });

  it('still runs the other jobs of the batch', async () => {
    const t = await setup(3);
    const [a, b, c] = t.jobs;
    t.objects.failing = (op, key) => op === 'get' && key === b!.input.key;
    await t.worker.runOnce();
    expect((await t.get(a!.id)).status).toBe('succeeded');
    expect((await t.get(b!.id)).status).toBe('queued');
    expect((await t.get(c!.id)).status).toBe('succeeded');
    expect(t.runner.runs.map((r) => r.jobIds.sort())).toEqual([[a!.id, c!.id].sort()]);
    expect(t.guard.inFlight).toBe(0);
  });

  it('hands the job back when its results cannot be written', async () => {
    const t = await setup();
    const [job] = t.jobs;
    const inner = t.api.platform.objects;
    t.objects.put = async (key, body, options) => {
      if (key.startsWith('results/')) throw new Error(`SlowDown: put '${key}' rejected`);
      return inner.put(key, body, options);
    };
    await t.worker.runOnce();
    expect(await t.get(job!.id)).toMatchObject({ status: 'queued', lease: null, error: { code: 'storage_error', message: expect.stringContaining('SlowDown') } });
    expect(t.guard.inFlight).toBe(0);
    expect(await t.idleExtensions()).toBe(0);
  });

  it('leaves a succeeded job alone when only the cleanup after it fails, even on the last attempt', async () => {
    const t = await setup();
    const [job] = t.jobs;
    // The first listing of the job's checkpoints (looking for one to resume) works; the one clearing them after success fails.
    let listings = 0;
    t.objects.failing = (op, key) => op === 'list' && key === `checkpoints/${job!.id}/` && ++listings > 1;
    // Two receives spent elsewhere, so this worker holds the last attempt.
    const queue = t.api.platform.queueFor('tiny');
    for (let i = 0; i < 2; i++) {
      const [m] = await queue.receive({ maxMessages: 1, waitSeconds: 0, visibilityTimeoutSeconds: 30 });
      await queue.changeVisibility(m!.receiptHandle, 0);
    }
    await t.worker.runOnce();
    expect(await t.get(job!.id)).toMatchObject({ status: 'succeeded', error: null });
    expect(t.worker.counters).toMatchObject({ jobsSucceeded: 0, jobsFailed: 0, jobsReleased: 0 });
    expect(t.guard.inFlight).toBe(0);
    expect(queue.depth).toBe(0);
    expect(t.api.platform.deadLetters.get('tiny')!.depth).toBe(0);
  });
});
