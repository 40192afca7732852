import { describe, expect, it } from 'vitest';
import { localApi } from './testing/local-api.ts';
import { authed } from '../../shared/testing/api-client.ts';

const create = async (app: Awaited<ReturnType<typeof localApi>>['app'], path: string, body: object) =>
  app.request(path, authed(undefined, { method: 'POST', body: JSON.stringify(body) }));

describe('webhook URLs at job creation', () => {
  it('refuses private, link-local and loopback destinations with the reason, for jobs and batches', async () => {
    const { app } = await localApi({ webhookPolicy: { allowLoopback: false, resolve: async () => ['10.0.0.9'] } });
    for (const webhook of ['http://169.254.169.254/latest', 'http://127.0.0.1:9000/hook', 'https://internal.example.com/hook']) {
      const response = await create(app, '/v1/jobs', { model: 'tiny', webhook });
      expect(response.status, webhook).toBe(422);
      const problem = (await response.json()) as { issues: { path: string; code: string }[]; detail: string };
      expect(problem.issues[0]).toMatchObject({ path: 'body.webhook', code: 'webhook_refused' });
    }
    expect((await create(app, '/v1/batches', { model: 'tiny', count: 2, webhook: 'http://[fd00:ec2::254]/' })).status).toBe(422);
  });

  it('accepts public hosts, and loopback when the policy allows it', async () => {
    const { app } = await localApi({ webhookPolicy: { allowLoopback: true, resolve: async () => ['93.184.215.14'] } });
    expect((await create(app, '/v1/jobs', { model: 'tiny', webhook: 'https://hooks.example.com/done' })).status).toBe(201);
    expect((await create(app, '/v1/jobs', { model: 'tiny', webhook: 'http://127.0.0.1:9000/hook' })).status).toBe(201);
  });
});
