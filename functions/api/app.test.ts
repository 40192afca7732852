import { describe, expect, it } from 'vitest';
import type { JobView } from '../../shared/contracts/job-view.ts';
import type { Problem } from '../../shared/contracts/problem.ts';
import { LocalUrlSigner } from '../../shared/platform/local-url-signer.ts';
import { listAll } from '../../shared/platform/object-store.ts';
import { localApi } from './testing/local-api.ts';
import { authed, OTHER_KEY, PNG_BYTES, uploadForm } from '../../shared/testing/api-client.ts';

const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => authed(undefined, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers });

async function problem(response: Response): Promise<Problem> {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return (await response.json()) as Problem;
}

/** The path and query of a URL on the local API, for app.request. */
const local = (url: string): string => url.slice('http://127.0.0.1:8080'.length);

describe('POST /v1/jobs', () => {
  it('creates a job awaiting its upload, with defaults from the model and a bound upload form', async () => {
    const { app } = await localApi();
    const response = await app.request('/v1/jobs', post({ model: 'tiny', steps: 8 }));
    expect(response.status).toBe(201);
    const job = (await response.json()) as JobView;
    expect(job).toMatchObject({ model: 'tiny', status: 'awaiting_upload', params: { steps: 8, outputs: ['latent', 'reconstruction', 'metrics'] } });
    expect(job.input.key).toBe(`uploads/tiny/${job.id}/input`);
    expect(job.upload!.url).toMatch(/^http:\/\/127\.0\.0\.1:8080\/v1\/local\/uploads\?policy=[\w-]+&signature=[0-9a-f]{64}$/);
    expect(job.upload).toMatchObject({ maxBytes: 1024, fields: { key: job.input.key, 'Content-Type': 'image/png' } });
    expect(job).not.toHaveProperty('owner');
  });

  it('refuses an eta below float32 resolution with 422 saying the bound, for jobs and batches', async () => {
    const { app, platform } = await localApi();
    for (const [path, body, field] of [
      ['/v1/jobs', { model: 'tiny', steps: 1000, maxIters: 1000, eta: 5e-324 }, 'body.eta'],
      ['/v1/batches', { model: 'tiny', count: 1, params: { eta: 1e-20 } }, 'body.params.eta'],
    ] as const) {
      const refused = await app.request(path, post(body));
      expect(refused.status).toBe(422);
      const problem = (await refused.json()) as { detail: string; issues: { path: string }[] };
      expect(problem.detail).toMatch(/below float32 resolution of the latent \(3\.55e-15\).*use eta >= 3\.55e-15/);
      expect(problem.issues[0]!.path).toBe(field);
    }
    expect((await app.request('/v1/jobs', post({ model: 'tiny', eta: 1e-12 }))).status).toBe(201);
    expect((await listAll(platform.objects, 'jobs/')).length).toBe(1);
  });

  it('returns the same job for a retried Idempotency-Key and refuses it for another body', async () => {
    const { app } = await localApi();
    const first = await app.request('/v1/jobs', post({ model: 'tiny' }, { 'idempotency-key': 'retry-1' }));
    const again = await app.request('/v1/jobs', post({ model: 'tiny' }, { 'idempotency-key': 'retry-1' }));
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(((await again.json()) as JobView).id).toBe(((await first.json()) as JobView).id);
    const other = await app.request('/v1/jobs', post({ model: 'tiny', steps: 3 }, { 'idempotency-key': 'retry-1' }));
    expect(other.status).toBe(409);
    expect((await problem(other)).issues?.[0]?.path).toBe('header.idempotency-key');
  });

  it('answers malformed JSON with 400 problem+json', async () => {
    const { app } = await localApi();
    const response = await app.request('/v1/jobs', post('{"model": "tiny",'));
    expect(response.status).toBe(400);
    expect((await problem(response)).detail).toMatch(/JSON/);
  });

  it('names an unknown model and lists the known ones', async () => {
    const { app } = await localApi();
    const body = await problem(await app.request('/v1/jobs', post({ model: 'no-such-model' })));
    expect(body.status).toBe(422);
    expect(body.issues?.[0]).toMatchObject({ path: 'body.model', message: expect.stringContaining('tiny') });
  });

  it('names every out-of-range parameter by its path', async () => {
    const { app } = await localApi();
    const body = await problem(await app.request('/v1/jobs', post({ model: 'tiny', steps: 5000, eta: 0, maxIters: -1, extra: true })));
    expect(body.status).toBe(422);
    expect(body.issues?.map((i) => i.path)).toEqual(expect.arrayContaining(['body.steps', 'body.eta', 'body.maxIters', 'body']));
  });

  it('refuses a body over the JSON limit', async () => {
    const { app } = await localApi();
    const response = await app.request('/v1/jobs', post({ model: 'tiny', prompt: 'x'.repeat(2 * 1024 * 1024) }));
    expect(response.status).toBe(413);
  });
});

describe('authentication and ownership', () => {
  it('answers a missing or wrong key with 401 and a bearer challenge', async () => {
    const { app } = await localApi();
    const missing = await app.request('/v1/jobs', { method: 'POST', body: '{}' });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await app.request('/v1/models', authed('pk_wrong'));
    expect((await problem(wrong)).issues?.[0]?.path).toBe('header.authorization');
  });

  it("hides another key's job behind 404", async () => {
    const { app } = await localApi();
    const job = (await (await app.request('/v1/jobs', post({ model: 'tiny' }))).json()) as JobView;
    expect((await app.request(`/v1/jobs/${job.id}`, authed(OTHER_KEY))).status).toBe(404);
    expect((await app.request(`/v1/jobs/${job.id}`, authed(OTHER_KEY, { method: 'DELETE' }))).status).toBe(404);
    expect((await app.request(`/v1/jobs/${job.id}`, authed())).status).toBe(200);
    expect((await app.request('/v1/jobs/..%2Fescape', authed())).status).toBe(404);
  });
});

describe('local uploads', () => {
  async function created(overrides = {}) {
    const api = await localApi(overrides);
    const job = (await (await api.app.request('/v1/jobs', post({ model: 'tiny' }))).json()) as JobView;
    return { ...api, job };
  }

  it('stores a valid image and announces it on the model queue as an S3 event', async () => {
    const { app, job, platform } = await created();
    const response = await app.request(job.upload!.url.replace('http://127.0.0.1:8080', ''), { method: 'POST', body: uploadForm(job.upload!.fields, PNG_BYTES) });
    expect(response.status).toBe(204);
    expect((await platform.objects.get(job.input.key))?.contentType).toBe('image/png');
    const [message] = await platform.queueFor('tiny').receive({ maxMessages: 1, waitSeconds: 0, visibilityTimeoutSeconds: 1 });
    expect(JSON.parse(message!.body).Records[0].s3.object.key).toBe(job.input.key);
  });

  it('refuses an oversize file with 413 and a non-image with 415, storing nothing', async () => {
    const { app, job, platform } = await created();
    const big = new Uint8Array(2000);
    big.set(PNG_BYTES);
    expect((await app.request(local(job.upload!.url), { method: 'POST', body: uploadForm(job.upload!.fields, big) })).status).toBe(413);
    const text = new TextEncoder().encode('just text, not an image');
    const notImage = await app.request(local(job.upload!.url), { method: 'POST', body: uploadForm(job.upload!.fields, text) });
    expect(notImage.status).toBe(415);
    expect((await problem(notImage)).detail).toMatch(/PNG, JPEG or WebP/);
    expect(await platform.objects.head(job.input.key)).toBeUndefined();
  });

  it('refuses an expired form and a form whose key was changed', async () => {
    const { app, job, platform, deps } = await created();
    const past = new LocalUrlSigner('test-secret', 'http://127.0.0.1:8080', () => Date.now() - 3_600_000);
    const expired = past.signPost({ key: job.input.key, minBytes: 1, maxBytes: 1024, contentType: 'image/png', contentTypePrefix: 'image/', expiresInSeconds: 60 });
    const response = await app.request(local(expired.url), { method: 'POST', body: uploadForm(expired.fields, PNG_BYTES) });
    expect(response.status).toBe(403);
    expect((await problem(response)).detail).toMatch(/expired/);
    const moved = await app.request(local(job.upload!.url), { method: 'POST', body: uploadForm({ ...job.upload!.fields, key: 'jobs/x.json' }, PNG_BYTES) });
    expect(moved.status).toBe(403);
    expect(await platform.objects.head('jobs/x.json')).toBeUndefined();
    expect(deps.localSigner).toBeDefined();
  });
});

describe('cancel', () => {
  it('cancels an unfinished job once and refuses to cancel a finished one', async () => {
    const { app, platform } = await localApi();
    const job = (await (await app.request('/v1/jobs', post({ model: 'tiny' }))).json()) as JobView;
    const canceled = await app.request(`/v1/jobs/${job.id}`, authed(undefined, { method: 'DELETE' }));
    expect(((await canceled.json()) as JobView).status).toBe('canceled');
    expect((await app.request(`/v1/jobs/${job.id}`, authed(undefined, { method: 'DELETE' }))).status).toBe(200);
    const done = (await (await app.request('/v1/jobs', post({ model: 'tiny' }))).json()) as JobView;
    await platform.jobs.update(done.id, (j) => ({ ...j, status: 'succeeded' }));
    expect((await app.request(`/v1/jobs/${done.id}`, authed(undefined, { method: 'DELETE' }))).status).toBe(409);
  });
});

describe('batches', () => {
  it('creates jobs with uploads, imports objects under the key prefix, and counts statuses', async () => {
    const { app, platform } = await localApi();
    const created = await app.request('/v1/batches', post({ model: 'tiny', params: { steps: 4 }, count: 3 }));
    expect(created.status).toBe(201);
    const batch = (await created.json()) as { id: string; jobs: JobView[]; counts: Record<string, number> };
    expect(batch.jobs.map((j) => j.id)).toEqual([0, 1, 2].map((i) => `${batch.id}-000${i}`));
    expect(batch.counts).toEqual({ awaiting_upload: 3 });

    const owner = (await platform.jobs.get(batch.jobs[0]!.id))!.value.owner;
    await platform.objects.put(`imports/${owner}/a.png`, PNG_BYTES, { contentType: 'image/png' });
    await platform.objects.put(`imports/${owner}/b.png`, PNG_BYTES, { contentType: 'image/png' });
    const imported = await app.request(`/v1/batches/${batch.id}/import`, post({ prefix: `imports/${owner}/` }));
    expect(imported.status).toBe(202);
    expect(((await imported.json()) as { jobs: JobView[] }).jobs.map((j) => j.input.key)).toEqual([`imports/${owner}/a.png`, `imports/${owner}/b.png`]);
    expect(platform.queueFor('tiny').depth).toBe(2);

    const outside = await app.request(`/v1/batches/${batch.id}/import`, post({ keys: ['uploads/tiny/x/input'] }));
    expect((await problem(outside)).issues?.[0]?.path).toBe('body.keys.0');

    const view = (await (await app.request(`/v1/batches/${batch.id}`, authed())).json()) as { counts: Record<string, number> };
    expect(view.counts).toEqual({ awaiting_upload: 3, queued: 2 });
    expect((await app.request(`/v1/batches/${batch.id}`, authed(OTHER_KEY))).status).toBe(404);
  });

  it('refuses more than 1000 jobs', async () => {
    const { app } = await localApi();
    const body = await problem(await app.request('/v1/batches', post({ model: 'tiny', count: 1001 })));
    expect(body.issues?.[0]?.path).toBe('body.count');
  });
});

describe('service routes', () => {
  it('serves health, models and an OpenAPI document naming every route', async () => {
    const { app } = await localApi();
    expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok' });
    const models = (await (await app.request('/v1/models', authed())).json()) as { models: { id: string }[] };
    expect(models.models.map((m) => m.id)).toContain('tiny');
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}', '/v1/batches', '/v1/batches/{id}', '/v1/batches/{id}/import', '/v1/models', '/healthz']));
    expect((await app.request('/nope')).status).toBe(404);
  });
});
