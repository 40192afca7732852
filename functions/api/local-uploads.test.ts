/**
 * The one-machine upload and download routes as an attacker and a hurried client use them: a
 * forged upload is refused before its body is read, an accepted image is the job's input for
 * good, the job is queued the moment its image lands, and malformed paths and keys are 400s.
 */
import { describe, expect, it } from 'vitest';
import type { BatchView } from '../../shared/contracts/job-batch.ts';
import type { JobView } from '../../shared/contracts/job-view.ts';
import { ApiKeyRing } from './api-keys.ts';
import { localApi } from './testing/local-api.ts';
import { authed, PNG_BYTES, TEST_KEY, uploadForm } from '../../shared/testing/api-client.ts';

const BASE = 'http://127.0.0.1:8080';

async function created() {
  const api = await localApi();
  const job = (await (await api.app.request('/v1/jobs', authed(undefined, { method: 'POST', body: JSON.stringify({ model: 'tiny' }) }))).json()) as JobView;
  const upload = (bytes: Uint8Array, url = job.upload!.url) => api.app.request(url.slice(BASE.length), { method: 'POST', body: uploadForm(job.upload!.fields, bytes) });
  return { ...api, job, upload };
}

/** A request body that counts the bytes anyone pulled from it. */
function countingBody(total: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= total) return controller.close();
        const chunk = new Uint8Array(Math.min(64 * 1024, total - sent));
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => sent };
}

describe('local uploads', () => {
  it('refuses a forged or missing signature before reading a byte of the body', async () => {
    const { app, job } = await created();
    const url = new URL(job.upload!.url);
    for (const query of [`?policy=${url.searchParams.get('policy')}&signature=${'0'.repeat(64)}`, '']) {
      const body = countingBody(26 * 1024 * 1024);
      const request = new Request(`${BASE}/v1/local/uploads${query}`, { method: 'POST', body: body.stream, duplex: 'half', headers: { 'content-type': 'multipart/form-data; boundary=x' } } as RequestInit);
      const answer = await app.request(request);
      expect(answer.status).toBe(403);
      expect(body.pulled()).toBe(0);
    }
  });

  it('refuses a body declared larger than the signed limit before reading it', async () => {
    const { app, job } = await created();
    const body = countingBody(26 * 1024 * 1024);
    const request = new Request(job.upload!.url, {
      method: 'POST',
      body: body.stream,
      duplex: 'half',
      headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(26 * 1024 * 1024) },
    } as RequestInit);
    expect((await app.request(request)).status).toBe(413);
    expect(body.pulled()).toBe(0);
  });

  it('queues the job the moment its image is accepted', async () => {
    const { app, job, upload } = await created();
    expect((await upload(PNG_BYTES)).status).toBe(204);
    const view = (await (await app.request(`/v1/jobs/${job.id}`, authed())).json()) as JobView;
    expect(view.status).toBe('queued');
    expect(view.upload).toBeUndefined();
    expect(view.timings.queuedAt).not.toBeNull();
  });

  it('keeps an accepted input: the same bytes again are a harmless retry, other bytes a 409', async () => {
    const { job, upload, platform } = await created();
    expect((await upload(PNG_BYTES)).status).toBe(204);
    expect((await upload(PNG_BYTES)).status).toBe(204);
    const other = PNG_BYTES.slice();
    other[other.length - 1] = 99;
    const refused = await upload(other);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/never changes/);
    expect(Buffer.from((await platform.objects.get(job.input.key))!.body).equals(Buffer.from(PNG_BYTES))).toBe(true);
  });

  it('answers 400 for a download path that is not valid percent-encoding', async () => {
    const { app } = await created();
    const answer = await app.request('/v1/local/objects/results/%E0%A4%A/latent.safetensors?expires=1&signature=x');
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { detail: string }).detail).toMatch(/percent-encoding/);
  });

  it('answers 400 naming the key for batch imports with `..` or `//` in a key', async () => {
    const { app } = await created();
    const owner = ApiKeyRing.fromKeys([TEST_KEY]).identify(TEST_KEY)!;
    const batch = (await (await app.request('/v1/batches', authed(undefined, { method: 'POST', body: JSON.stringify({ model: 'tiny', count: 0 }) }))).json()) as BatchView;
    for (const key of [`imports/${owner}/../x.png`, `imports/${owner}//x.png`]) {
      const answer = await app.request(`/v1/batches/${batch.id}/import`, authed(undefined, { method: 'POST', body: JSON.stringify({ keys: [key] }) }));
      expect(answer.status).toBe(400);
      const problem = (await answer.json()) as { issues: { path: string; message: string }[] };
      expect(problem.issues).toEqual([{ path: 'body.keys.0', message: expect.stringContaining(key) }]);
    }
  });
});
