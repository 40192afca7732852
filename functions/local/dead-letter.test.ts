import { describe, expect, it } from 'vitest';
import type { JobView } from '../../shared/contracts/job-view.ts';
import { localApi } from '../api/testing/local-api.ts';
import { authed, PNG_BYTES, uploadForm } from '../../shared/testing/api-client.ts';
import { claim } from '../worker/job-transitions.ts';
import { QueueWorker } from '../worker/queue-worker.ts';
import { StepRunner } from './worker.scenarios.ts';
import { silentLogger } from '../../shared/platform/logger.ts';

const BASE = 'http://127.0.0.1:8080';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function uploadedJob() {
  const api = await localApi();
  const created = await api.app.request('/v1/jobs', authed(undefined, { method: 'POST', body: JSON.stringify({ model: 'tiny', steps: 3 }) }));
  const job = (await created.json()) as JobView;
  await api.app.request(job.upload!.url.slice(BASE.length), { method: 'POST', body: uploadForm(job.upload!.fields, PNG_BYTES) });
  const queue = api.platform.queueFor('tiny');
  const deadLetter = api.platform.deadLetters.get('tiny')!;
  const worker = new QueueWorker(
    { objects: api.platform.objects, jobs: api.platform.jobs, queue, deadLetter, runner: new StepRunner(), logger: silentLogger() },
    { visibilityTimeoutSeconds: 1, waitSeconds: 0 },
  );
  /** What a worker killed right after claiming leaves behind: a running job with a lease nobody renews. */
  const crashOnce = async (): Promise<number> => {
    const [message] = await queue.receive({ maxMessages: 1, waitSeconds: 0, visibilityTimeoutSeconds: 1 });
    if (!message) return 0;
    await api.platform.jobs.update(job.id, (j) => claim(j, `doomed-${message.receiveCount}`, new Date(), 1));
    return message.receiveCount;
  };
  return { api, job, worker, crashOnce, get: async () => (await api.platform.jobs.get(job.id))!.value };
}

describe('jobs whose worker crashes on every attempt', () => {
  it('are failed with the reason once their message reaches the dead-letter queue', async () => {
    const t = await uploadedJob();
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(await t.crashOnce()).toBe(attempt);
      await sleep(1100);
    }
    expect(await t.get()).toMatchObject({ status: 'running', attempts: 3 });
    // The next receive moves the message to the dead-letter queue (maxReceiveCount 3) and runs nothing.
    expect(await t.worker.runOnce()).toBe(0);
    expect(await t.worker.sweepDeadLetters()).toBe(1);
    const failed = await t.get();
    expect(failed).toMatchObject({ status: 'failed', lease: null, error: { code: 'max_attempts', message: expect.stringContaining('gave up after 3 attempts') } });
    expect(failed.timings.finishedAt).not.toBeNull();
    // The message stays in the dead-letter queue for inspection; a second sweep changes nothing.
    expect(t.api.platform.deadLetters.get('tiny')!.depth).toBe(1);
    await sleep(50);
    expect(await t.worker.sweepDeadLetters()).toBe(0);
  });

  it('leave a job alone while a live worker holds it, or once it finished', async () => {
    const t = await uploadedJob();
    await t.api.platform.deadLetters.get('tiny')!.send(JSON.stringify({ kind: 'job', jobId: t.job.id }));
    await t.api.platform.jobs.update(t.job.id, (j) => claim(j, 'alive', new Date(), 60));
    expect(await t.worker.sweepDeadLetters()).toBe(0);
    expect((await t.get()).status).toBe('running');
  });
});
