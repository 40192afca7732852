import { describe, expect, it } from 'vitest';
import type { Problem } from '../../shared/contracts/problem.ts';
import { authed } from '../../shared/testing/api-client.ts';
import { ApiProblem, problemResponse } from './api-problem.ts';
import { PROBLEM_TYPES } from './problem-types.ts';
import { localApi } from './testing/local-api.ts';

describe('API key authentication (hono/bearer-auth, RFC 6750)', () => {
  it('no header: 401 with the realm challenge', async () => {
    const { app } = await localApi();
    const res = await app.request('/v1/models');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="preciseinv"');
    expect(((await res.json()) as Problem).title).toBe('Unauthorized');
  });

  it('an unknown key: 401 with error="invalid_token" and the issue on the header', async () => {
    const { app } = await localApi();
    const res = await app.request('/v1/models', authed('pk_wrong'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="preciseinv", error="invalid_token"');
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as Problem).issues).toEqual([{ path: 'header.authorization', message: 'unknown API key' }]);
  });

  it('a header that is not a bearer token: 400 with error="invalid_request"', async () => {
    const { app } = await localApi();
    const res = await app.request('/v1/models', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(res.status).toBe(400);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="preciseinv", error="invalid_request"');
    expect(((await res.json()) as Problem).type).toMatch(/\/problems\/malformed-authorization$/);
  });

  it('signed local object URLs need no key: a bad signature is refused by the signature check, not by auth', async () => {
    const { app } = await localApi();
    const res = await app.request('/v1/local/objects/results/x/latent.safetensors?expires=1&signature=00');
    expect(res.status).toBe(403);
    expect(((await res.json()) as Problem).type).toMatch(/\/problems\/signature-refused$/);
  });
});

describe('problem types (RFC 9457)', () => {
  it("a problem's type URI is a page the API serves, titled as the problem is", async () => {
    const { app } = await localApi();
    const problem = (await (await app.request('/v1/jobs/j-000000000000000000000000', authed())).json()) as Problem;
    expect(problem.status).toBe(404);
    const page = await app.request(new URL(problem.type).pathname);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain(`<h1>${problem.title}</h1>`);
    expect(html).toContain('another key&#39;s jobs');
  });

  it('the index lists every type, and an unknown one is a 404 problem', async () => {
    const { app } = await localApi();
    const index = await (await app.request('/problems')).text();
    for (const slug of Object.keys(PROBLEM_TYPES)) expect(index).toContain(`href="/problems/${slug}"`);
    const missing = await app.request('/problems/no-such-type');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
  });

  it("a type's title does not vary with its status", async () => {
    const { app } = await localApi();
    app.get('/probe/:status', (c) => problemResponse(c, new ApiProblem(Number(c.req.param('status')), 'batch-full', 'full')));
    const titles = await Promise.all([409, 422].map(async (s) => ((await (await app.request(`/probe/${s}`)).json()) as Problem).title));
    expect(titles).toEqual(['Batch full', 'Batch full']);
  });
});

describe('OpenAPI document', () => {
  interface Operation {
    security?: unknown[];
    responses: Record<string, unknown>;
  }
  async function doc(): Promise<{ paths: Record<string, Record<string, Operation>>; security: unknown[] }> {
    const { app } = await localApi();
    return (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, Operation>>; security: unknown[] };
  }

  it('declares /healthz without security while the default requires a key', async () => {
    const d = await doc();
    expect(d.security).toEqual([{ apiKey: [] }]);
    expect(d.paths['/healthz']!.get!.security).toEqual([]);
  });

  it('documents 415, 429 and 500 where they can occur', async () => {
    const d = await doc();
    expect(Object.keys(d.paths['/v1/jobs']!.post!.responses)).toEqual(expect.arrayContaining(['415', '429', '500']));
    expect(Object.keys(d.paths['/v1/models']!.get!.responses)).toEqual(expect.arrayContaining(['429', '500']));
  });
});
