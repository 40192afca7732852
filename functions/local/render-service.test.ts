/**
 * Render and interpolation jobs through the one-machine service with the real engine and the
 * bundled model: created from succeeded inversions, queued on the model's queue, run by the
 * worker, followed like any job; and the API's refusals (owner isolation, bad input, idempotency).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../shared/contracts/job-view.ts';
import { gradientPng } from '../../shared/diffusion/testing/gradient-png.ts';
import { freePort } from '../../shared/testing/free-port.ts';
import { uploadForm } from '../../shared/testing/api-client.ts';
import { silentLogger } from '../../shared/platform/logger.ts';
import { EngineRunner } from '../worker/engine-runner.ts';
import { startServer, type RunningServer } from './local-server.ts';

const OWNER = 'pk_render_owner';
const OTHER = 'pk_render_other';
const finished = (job: JobView): boolean => ['succeeded', 'failed', 'canceled'].includes(job.status);

describe('render and interpolation jobs on the bundled model', () => {
  let server: RunningServer;
  let engine: EngineRunner;
  const call = async (path: string, init: { method?: string; body?: unknown; key?: string; headers?: Record<string, string> } = {}) => {
    const response = await fetch(`${server.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${init.key ?? OWNER}`, 'content-type': 'application/json', ...init.headers },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as JobView & { detail?: string; issues?: { path: string }[] } };
  };
  const until = async (id: string): Promise<JobView> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { body } = await call(`/v1/jobs/${id}`);
      if (finished(body) || Date.now() > deadline) return body;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const invert = async (image: Uint8Array, body: object): Promise<JobView> => {
    const { body: job } = await call('/v1/jobs', { body: { model: 'tiny', method: 'ddim', steps: 4, ...body } });
    expect((await fetch(job.upload!.url, { method: 'POST', body: uploadForm(job.upload!.fields, image) })).status).toBe(204);
    const done = await until(job.id);
    expect(done.status).toBe('succeeded');
    return done;
  };
  const download = async (job: JobView, name: keyof JobView['outputs']) => new Uint8Array(await (await fetch(job.outputs[name]!.url)).arrayBuffer());

  let a: JobView;
  let b: JobView;
  let plain: JobView;
  beforeAll(async () => {
    engine = new EngineRunner({ logger: silentLogger(), executionProviders: { providers: ['cpu'], reason: 'test' } });
    server = await startServer({ port: await freePort(), dataDir: await mkdtemp(join(tmpdir(), 'pi-render-')), env: { PRECISEINV_API_KEYS: `${OWNER},${OTHER}` }, runner: engine, models: ['tiny'] });
    const outputs = ['latent', 'trajectory', 'reconstruction', 'metrics'];
    a = await invert(await gradientPng(64, 64, 0.4), { outputs });
    b = await invert(await gradientPng(64, 64, 2.1), { outputs });
    plain = await invert(await gradientPng(64, 64, 1.0), { steps: 3 });
  });
  afterAll(async () => {
    await server?.stop();
    await engine?.close();
  });

  it("a render with the inversion's own prompt gives back its reconstruction, byte for byte", async () => {
    const created = await call(`/v1/jobs/${a.id}/renders`, { body: {} });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ model: 'tiny', status: 'queued', render: { kind: 'render', strength: 1, source: { job: a.id } } });
    const done = await until(created.body.id);
    expect(done).toMatchObject({ status: 'succeeded', error: null, metrics: null, progress: { step: 4, totalSteps: 4 } });
    expect(done.outputs.image!.key).toBe(`results/${done.id}/render.png`);
    expect(Buffer.from(await download(done, 'image')).equals(Buffer.from(await download(a, 'reconstruction')))).toBe(true);
  });

  it('a strength below 1 starts from the trajectory and runs that share of the steps', async () => {
    const created = await call(`/v1/jobs/${a.id}/renders`, { body: { strength: 0.5 } });
    expect(created.status).toBe(201);
    const done = await until(created.body.id);
    expect(done).toMatchObject({ status: 'succeeded', progress: { step: 2, totalSteps: 2 } });
  });

  it('an interpolation writes a contact sheet and an animated WebP of its frames', async () => {
    const created = await call('/v1/interpolations', { body: { jobs: [a.id, b.id], frames: 3 } });
    expect(created.status).toBe(201);
    expect(created.body.render).toMatchObject({ kind: 'interpolation', frames: 3, mode: 'slerp' });
    const done = await until(created.body.id);
    expect(done).toMatchObject({ status: 'succeeded', progress: { step: 12, totalSteps: 12 } });
    const anim = await sharp(await download(done, 'animation'), { animated: true }).metadata();
    expect(anim).toMatchObject({ format: 'webp', pages: 3, width: 64, pageHeight: 64 });
    const sheet = await sharp(await download(done, 'contactSheet')).metadata();
    expect([sheet.width, sheet.height]).toEqual([3 * 64 + 4 * 2, 64 + 2 * 2]);
    // The animation is lossless: its first frame is the first source's reconstruction.
    const frame0 = await sharp(await download(done, 'animation'), { page: 0 }).removeAlpha().raw().toBuffer();
    const recon = await sharp(await download(a, 'reconstruction')).removeAlpha().raw().toBuffer();
    expect(frame0.equals(recon)).toBe(true);
  });

  it("another key's jobs are not found, for renders and interpolations alike", async () => {
    const render = await call(`/v1/jobs/${a.id}/renders`, { body: {}, key: OTHER });
    expect([render.status, render.type]).toEqual([404, 'application/problem+json']);
    expect((await call('/v1/interpolations', { body: { jobs: [a.id, b.id] }, key: OTHER })).status).toBe(404);
    const mine = await call(`/v1/jobs/${a.id}/renders`, { body: {} });
    expect((await call(`/v1/jobs/${mine.body.id}`, { key: OTHER })).status).toBe(404);
    await until(mine.body.id);
  });

  it('refuses bad input with problem+json naming the field or the reason', async () => {
    const cases: [string, unknown, number, RegExp | string][] = [
      [`/v1/jobs/${a.id}/renders`, { strength: 0 }, 422, 'body.strength'],
      [`/v1/jobs/${a.id}/renders`, { strength: 1.5 }, 422, 'body.strength'],
      [`/v1/jobs/${a.id}/renders`, { prompt: 'x', colour: 'red' }, 422, /colour|body/],
      [`/v1/jobs/${a.id}/renders`, { guidance: -1 }, 422, 'body.guidance'],
      [`/v1/jobs/${plain.id}/renders`, { strength: 0.5 }, 422, 'body.strength'],
      ['/v1/jobs/j-nosuchjob0000/renders', {}, 404, /no job 'j-nosuchjob0000'/],
      ['/v1/interpolations', { jobs: [a.id, plain.id] }, 422, 'body.jobs'],
      ['/v1/interpolations', { jobs: [a.id, b.id], frames: 1 }, 422, 'body.frames'],
      ['/v1/interpolations', { jobs: [a.id, b.id], mode: 'cubic' }, 422, 'body.mode'],
      ['/v1/interpolations', { jobs: [a.id] }, 422, 'body.jobs'],
    ];
    for (const [path, body, status, expected] of cases) {
      const response = await call(path, { body });
      expect(response.status, `${path} ${JSON.stringify(body)}`).toBe(status);
      expect(response.type).toBe('application/problem+json');
      if (typeof expected === 'string') expect(response.body.issues?.map((i) => i.path), JSON.stringify(body)).toContain(expected);
      else expect(JSON.stringify(response.body)).toMatch(expected);
    }
    const sources = await call('/v1/interpolations', { body: { jobs: [a.id, plain.id] } });
    expect(sources.body.detail).toMatch(/differ in steps \(4 vs 3\)/);
    const render = await call(`/v1/jobs/${a.id}/renders`, { body: {} });
    const ofRender = await call(`/v1/jobs/${render.body.id}/renders`, { body: {} });
    expect(ofRender.status).toBe(422);
    expect(ofRender.body.detail).toMatch(/is a render job; renders start from an inversion's latent/);
    await until(render.body.id);
    const running = await call('/v1/jobs', { body: { model: 'tiny' } });
    const notReady = await call(`/v1/jobs/${running.body.id}/renders`, { body: {} });
    expect(notReady.status).toBe(409);
    expect(notReady.body.detail).toMatch(/is awaiting_upload; a render needs a succeeded inversion/);
    const missing = await call(`/v1/jobs/${plain.id}/renders`, { body: { strength: 0.5 } });
    expect(missing.body.detail).toMatch(/did not keep it; use strength 1, or invert again with the 'trajectory' output/);
  });

  it('a retried create with the same Idempotency-Key returns the same job; another body under it is refused', async () => {
    const headers = { 'idempotency-key': 'render-retry-1' };
    const first = await call(`/v1/jobs/${a.id}/renders`, { body: { guidance: 1 }, headers });
    const again = await call(`/v1/jobs/${a.id}/renders`, { body: { guidance: 1 }, headers });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.id).toBe(first.body.id);
    expect((await call(`/v1/jobs/${b.id}/renders`, { body: { guidance: 1 }, headers })).status).toBe(409);
    await until(first.body.id);
  });

  it('the OpenAPI document describes both routes', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, { post?: { requestBody?: unknown } }> };
    expect(doc.paths['/v1/jobs/{id}/renders']?.post?.requestBody).toBeDefined();
    expect(doc.paths['/v1/interpolations']?.post?.requestBody).toBeDefined();
  });
});
