import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BatchView } from '../../shared/contracts/job-batch.ts';
import type { JobView } from '../../shared/contracts/job-view.ts';
import { StepRunner } from './worker.scenarios.ts';
import { startServer } from './local-server.ts';
import { localApi } from '../api/testing/local-api.ts';
import { authed, OTHER_KEY, PNG_BYTES, uploadForm } from '../../shared/testing/api-client.ts';
import { freePort } from '../../shared/testing/free-port.ts';

const text = (s: string) => new TextEncoder().encode(s);

describe('job records that cannot be read', () => {
  it('are named and skipped at start: the server starts and runs the other jobs', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'preciseinv-unreadable-'));
    const env = { PRECISEINV_API_KEYS: 'pk_server_key' };
    const headers = { authorization: 'Bearer pk_server_key', 'content-type': 'application/json' };
    const first = await startServer({ port: await freePort(), dataDir, env });
    let damaged: JobView;
    let healthy: JobView;
    try {
      const create = async () => (await (await fetch(`${first.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ model: 'tiny', steps: 2 }) })).json()) as JobView;
      damaged = await create();
      healthy = await create();
      for (const job of [damaged, healthy]) expect((await fetch(job.upload!.url, { method: 'POST', body: uploadForm(job.upload!.fields, PNG_BYTES) })).status).toBe(204);
    } finally {
      await first.stop();
    }
    await writeFile(join(dataDir, 'objects', 'jobs', `${damaged.id}.json`), 'nope');

    const second = await startServer({ port: await freePort(), dataDir, env, runner: new StepRunner() });
    try {
      let job = healthy;
      for (let i = 0; i < 100 && job.status !== 'succeeded'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        job = (await (await fetch(`${second.url}/v1/jobs/${healthy.id}`, { headers })).json()) as JobView;
      }
      expect(job.status).toBe('succeeded');
      expect((await fetch(`${second.url}/v1/jobs/${damaged.id}`, { headers })).status).toBe(404);
    } finally {
      await second.stop();
    }
  });

  it('answer their owner with a problem naming the job, and every other key 404, for GET and DELETE', async () => {
    const { app, platform } = await localApi();
    const created = (await (await app.request('/v1/jobs', authed(undefined, { method: 'POST', body: JSON.stringify({ model: 'tiny' }) }))).json()) as JobView;
    const key = `jobs/${created.id}.json`;
    const stored = JSON.parse(new TextDecoder().decode((await platform.objects.get(key))!.body)) as Record<string, unknown>;
    await platform.objects.put(key, text(JSON.stringify({ ...stored, status: 'exploded' })));

    for (const method of ['GET', 'DELETE']) {
      const mine = await app.request(`/v1/jobs/${created.id}`, authed(undefined, { method }));
      expect(mine.status).toBe(500);
      expect(mine.headers.get('content-type')).toContain('application/problem+json');
      const problem = (await mine.json()) as { type: string; detail: string };
      expect(problem.type).toMatch(/unreadable-record$/);
      expect(problem.detail).toContain(created.id);
      expect((await app.request(`/v1/jobs/${created.id}`, authed(OTHER_KEY, { method }))).status).toBe(404);
    }

    await platform.objects.put(key, text('nope'));
    for (const k of [undefined, OTHER_KEY]) expect((await app.request(`/v1/jobs/${created.id}`, authed(k))).status).toBe(404);
  });

  it('are left out of their batch’s view, which still shows the others', async () => {
    const { app, platform } = await localApi();
    const batch = (await (await app.request('/v1/batches', authed(undefined, { method: 'POST', body: JSON.stringify({ model: 'tiny', count: 3 }) }))).json()) as BatchView;
    await platform.objects.put(`jobs/${batch.jobs[1]!.id}.json`, text('nope'));
    const answer = await app.request(`/v1/batches/${batch.id}`, authed());
    expect(answer.status).toBe(200);
    const view = (await answer.json()) as BatchView;
    expect(view.jobs.map((j) => j.id)).toEqual([batch.jobs[0]!.id, batch.jobs[2]!.id]);
    expect(new TextDecoder().decode((await platform.objects.get(`jobs/${batch.jobs[1]!.id}.json`))!.body)).toBe('nope');
  });
});
