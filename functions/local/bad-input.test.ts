/**
 * Every bad input named in the service's acceptance list, through the API and the worker on the
 * one-machine platform: each is answered with a problem that says what was wrong, and nothing is
 * lost (no stray job or object, the job and its upload form still usable, other jobs unaffected).
 */
import { describe, expect, it } from 'vitest';
import type { JobView } from '../../shared/contracts/job-view.ts';
import type { Problem } from '../../shared/contracts/problem.ts';
import { LocalUrlSigner } from '../../shared/platform/local-url-signer.ts';
import { listAll } from '../../shared/platform/object-store.ts';
import { QueueWorker } from '../worker/queue-worker.ts';
import { StepRunner } from './worker.scenarios.ts';
import { silentLogger } from '../../shared/platform/logger.ts';
import { localApi } from '../api/testing/local-api.ts';
import { authed, OTHER_KEY, PNG_BYTES, TEST_KEY, uploadForm } from '../../shared/testing/api-client.ts';

const BASE = 'http://127.0.0.1:8080';
const post = (body: unknown, headers: Record<string, string> = {}, key = TEST_KEY): RequestInit =>
  authed(key, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers });

async function problem(response: Response, status: number): Promise<Problem> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return (await response.json()) as Problem;
}

async function setup() {
  const api = await localApi();
  const queue = api.platform.queueFor('tiny');
  const stored = async (prefix: string) => listAll(api.platform.objects, prefix);
  const create = async (body: object = { model: 'tiny', steps: 3 }, headers: Record<string, string> = {}) => {
    const response = await api.app.request('/v1/jobs', post(body, headers));
    expect(response.status).toBe(201);
    return (await response.json()) as JobView;
  };
  const upload = (form: { url: string; fields: Record<string, string> }, bytes: Uint8Array, type = 'image/png') =>
    api.app.request(form.url.slice(BASE.length), { method: 'POST', body: uploadForm(form.fields, bytes, type) });
  const view = async (id: string, key = TEST_KEY) => (await (await api.app.request(`/v1/jobs/${id}`, authed(key))).json()) as JobView;
  const worker = (runner: StepRunner) =>
    new QueueWorker(
      { objects: api.platform.objects, jobs: api.platform.jobs, queue, runner, logger: silentLogger() },
      { visibilityTimeoutSeconds: 30, waitSeconds: 0, progressIntervalMs: 0, retryDelaySeconds: () => 0 },
    );
  return { ...api, queue, stored, create, upload, view, worker };
}

describe('bad input, answered clearly with nothing lost', () => {
  it('malformed JSON: 400 saying the body is not JSON; no job; the same Idempotency-Key then works', async () => {
    const t = await setup();
    const body = await problem(await t.app.request('/v1/jobs', post('{"model": "tiny",', { 'idempotency-key': 'k1' })), 400);
    expect(body.detail).toMatch(/not valid JSON/);
    const untyped = await problem(await t.app.request('/v1/jobs', { method: 'POST', body: 'model=tiny', headers: { authorization: `Bearer ${TEST_KEY}` } }), 415);
    expect(untyped.detail).toMatch(/content-type: application\/json/);
    expect(await t.stored('jobs/')).toEqual([]);
    expect((await t.app.request('/v1/jobs', post({ model: 'tiny' }, { 'idempotency-key': 'k1' }))).status).toBe(201);
  });

  it('unknown model: 422 naming it and the known models; no job', async () => {
    const t = await setup();
    const body = await problem(await t.app.request('/v1/jobs', post({ model: 'sd99' })), 422);
    expect(body.issues).toEqual([{ path: 'body.model', code: 'unknown_model', message: expect.stringMatching(/unknown model 'sd99'; known models: .*tiny/) }]);
    expect(await t.stored('jobs/')).toEqual([]);
    expect(t.queue.depth).toBe(0);
  });

  it('out-of-range parameters: 422 with each path and the expected range; no job', async () => {
    const t = await setup();
    const body = await problem(await t.app.request('/v1/jobs', post({ model: 'tiny', steps: 0, eta: -1, guidance: 'high', outputs: ['latent', 'video'] })), 422);
    const byPath = Object.fromEntries((body.issues ?? []).map((i) => [i.path, i.message]));
    expect(byPath['body.steps']).toMatch(/expected number to be >=1/);
    expect(byPath['body.eta']).toMatch(/expected number to be >0/);
    expect(byPath['body.guidance']).toMatch(/expected number/);
    expect(Object.keys(byPath).some((p) => p.startsWith('body.outputs'))).toBe(true);
    const batch = await problem(await t.app.request('/v1/batches', post({ model: 'tiny', count: 1001 })), 422);
    expect(batch.issues?.[0]).toMatchObject({ path: 'body.count', message: expect.stringMatching(/<=1000/) });
    expect(await t.stored('jobs/')).toEqual([]);
    expect(await t.stored('batches/')).toEqual([]);
  });

  it('oversize and non-image uploads: 413 and 415 saying the limit and the accepted types; the job waits and the same form still works', async () => {
    const t = await setup();
    const job = await t.create();
    const big = new Uint8Array(job.upload!.maxBytes + 1);
    big.set(PNG_BYTES);
    expect((await problem(await t.upload(job.upload!, big), 413)).detail).toBe(`the upload exceeds ${job.upload!.maxBytes} bytes`);
    const text = new TextEncoder().encode('GIF89a, or rather not an image at all');
    expect((await problem(await t.upload(job.upload!, text), 415)).detail).toMatch(/not a PNG, JPEG or WebP image/);
    expect((await problem(await t.upload({ ...job.upload!, fields: { ...job.upload!.fields, 'Content-Type': 'text/plain' } }, PNG_BYTES, 'text/plain'), 415)).detail).toMatch(/must start with 'image\/'/);
    expect(await t.stored('uploads/')).toEqual([]);
    expect(t.queue.depth).toBe(0);
    expect((await t.view(job.id)).status).toBe('awaiting_upload');
    expect((await t.upload(job.upload!, PNG_BYTES)).status).toBe(204);
    expect((await t.view(job.id)).status).toBe('queued');
    expect(t.queue.depth).toBe(1);
  });

  it('an expired upload URL: 403 saying when it expired; GET on the job hands out a fresh form that works', async () => {
    const t = await setup();
    const job = await t.create();
    const hourAgo = new LocalUrlSigner('test-secret', BASE, () => Date.now() - 3_600_000);
    const expired = hourAgo.signPost({ key: job.input.key, minBytes: 1, maxBytes: 1024, contentType: 'image/png', contentTypePrefix: 'image/', expiresInSeconds: 60 });
    expect((await problem(await t.upload(expired, PNG_BYTES), 403)).detail).toMatch(/^the upload URL expired at \d{4}-.*; request a new one$/);
    expect(await t.stored('uploads/')).toEqual([]);
    const fresh = await t.view(job.id);
    expect(fresh.status).toBe('awaiting_upload');
    expect(Date.parse(fresh.upload!.expiresAt)).toBeGreaterThan(Date.now());
    expect((await t.upload(fresh.upload!, PNG_BYTES)).status).toBe(204);
    expect(t.queue.depth).toBe(1);
  });

  it("a wrong API key: 401 with a bearer challenge; nothing created, and the owner's jobs neither shown nor touched", async () => {
    const t = await setup();
    const job = await t.create();
    const wrong = await t.app.request('/v1/jobs', post({ model: 'tiny' }, {}, 'pk_wrong'));
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await problem(wrong, 401)).issues).toEqual([{ path: 'header.authorization', message: 'unknown API key' }]);
    expect((await problem(await t.app.request(`/v1/jobs/${job.id}`, authed('pk_wrong', { method: 'DELETE' })), 401)).detail).toMatch(/API key/);
    expect((await problem(await t.app.request(`/v1/jobs/${job.id}`, authed(OTHER_KEY, { method: 'DELETE' })), 404)).detail).toBe(`no job '${job.id}' for this API key`);
    expect(await t.stored('jobs/')).toEqual([`jobs/${job.id}.json`]);
    expect((await t.view(job.id)).status).toBe('awaiting_upload');
  });

  it('a double submit: one job for concurrent retries, 409 for a reused key, and a twice-posted upload runs once', async () => {
    const t = await setup();
    const headers = { 'idempotency-key': 'client-retry-7' };
    const [a, b] = await Promise.all([t.app.request('/v1/jobs', post({ model: 'tiny', steps: 3 }, headers)), t.app.request('/v1/jobs', post({ model: 'tiny', steps: 3 }, headers))]);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    const job = (await a.json()) as JobView;
    expect(((await b.json()) as JobView).id).toBe(job.id);
    expect(await t.stored('jobs/')).toEqual([`jobs/${job.id}.json`]);
    const reused = await problem(await t.app.request('/v1/jobs', post({ model: 'tiny', steps: 4 }, headers)), 409);
    expect(reused.issues).toEqual([{ path: 'header.idempotency-key', message: `already used for job '${job.id}'` }]);

    expect((await t.upload(job.upload!, PNG_BYTES)).status).toBe(204);
    expect((await t.upload(job.upload!, PNG_BYTES)).status).toBe(204);
    const runner = new StepRunner(4);
    const w = t.worker(runner);
    for (let i = 0; i < 3; i++) await w.runOnce();
    expect(runner.runs.flatMap((r) => r.jobIds)).toEqual([job.id]);
    expect(await t.view(job.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(t.queue.depth).toBe(0);
    // A retry after the job finished still finds it, with its results.
    const late = await t.app.request('/v1/jobs', post({ model: 'tiny', steps: 3 }, headers));
    expect(late.status).toBe(200);
    expect(((await late.json()) as JobView).outputs.latent?.url).toMatch(/^http/);
  });

  it('cancel during a run: 200 canceled; the run stops, writes no results and is not retried; the job batched with it finishes', async () => {
    const t = await setup();
    const doomed = await t.create();
    const kept = await t.create();
    for (const job of [doomed, kept]) expect((await t.upload(job.upload!, PNG_BYTES)).status).toBe(204);
    const runner = new StepRunner(4);
    let reached!: () => void;
    const atStepTwo = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    runner.gate = async (_id, step) => {
      if (step !== 2) return;
      reached();
      await held;
    };
    const w = t.worker(runner);
    const running = w.runOnce();
    await atStepTwo;
    const canceled = await t.app.request(`/v1/jobs/${doomed.id}`, authed(undefined, { method: 'DELETE' }));
    expect(canceled.status).toBe(200);
    expect(((await canceled.json()) as JobView).status).toBe('canceled');
    release();
    await running;
    expect(runner.runs.map((r) => r.jobIds.length)).toEqual([2]);
    expect(await t.view(doomed.id)).toMatchObject({ status: 'canceled', outputs: {}, error: null });
    expect(await t.stored(`results/${doomed.id}/`)).toEqual([]);
    expect(await t.stored(`checkpoints/${doomed.id}/`)).toEqual([]);
    expect((await t.view(kept.id)).status).toBe('succeeded');
    expect(await t.stored(`results/${kept.id}/`)).toHaveLength(3);
    expect(t.queue.depth).toBe(0);
    // Canceling again is idempotent; canceling a finished job says why it cannot.
    expect((await t.app.request(`/v1/jobs/${doomed.id}`, authed(undefined, { method: 'DELETE' }))).status).toBe(200);
    expect((await problem(await t.app.request(`/v1/jobs/${kept.id}`, authed(undefined, { method: 'DELETE' })), 409)).detail).toBe(`job '${kept.id}' already succeeded; nothing to cancel`);
  });
});
