/** What `preciseinv serve` checks at start: every environment variable, and which models it really runs. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnvironment } from '../../shared/platform/environment.ts';
import { WorkerEnvironment } from '../worker/worker-process.ts';
import { ApiEnvironment } from '../api/api-config.ts';
import { startServer } from './local-server.ts';
import { freePort } from '../../shared/testing/free-port.ts';

const dataDir = () => mkdtemp(join(tmpdir(), 'preciseinv-config-'));

describe('configuration from the environment', () => {
  it('refuses a bad value at start, naming the variable and what it should hold', async () => {
    await expect(startServer({ port: await freePort(), dataDir: await dataDir(), env: { PRECISEINV_MAX_UPLOAD_BYTES: 'abc' } })).rejects.toThrow(
      /^server configuration: PRECISEINV_MAX_UPLOAD_BYTES: expected a whole number of bytes/,
    );
    await expect(startServer({ port: await freePort(), dataDir: await dataDir(), env: { PRECISEINV_MAX_UPLOAD_BYTES: '-5' } })).rejects.toThrow(/PRECISEINV_MAX_UPLOAD_BYTES: expected a positive number/);
    await expect(startServer({ port: await freePort(), dataDir: await dataDir(), env: { PRECISEINV_WEBHOOK_ALLOW_LOOPBACK: 'yes' } })).rejects.toThrow(
      /^webhook configuration: PRECISEINV_WEBHOOK_ALLOW_LOOPBACK: expected 1 or true/,
    );
  });

  it('names the variable for the AWS API and the worker too', () => {
    const api = { PRECISEINV_BUCKET: 'bucket', PRECISEINV_QUEUE_URLS: '{"tiny":"https://sqs.example/q"}', PRECISEINV_API_KEY_HASHES: 'a'.repeat(64) };
    expect(() => parseEnvironment(ApiEnvironment, { ...api, PRECISEINV_UPLOAD_EXPIRES_SECONDS: 'soon' }, 'API')).toThrow(/^API configuration: PRECISEINV_UPLOAD_EXPIRES_SECONDS: /);
    const worker = { PRECISEINV_BUCKET: 'bucket', PRECISEINV_MODEL: 'tiny', PRECISEINV_QUEUE_URL: 'https://sqs.example/q', PRECISEINV_WEBHOOK_SECRET: 's'.repeat(16) };
    expect(parseEnvironment(WorkerEnvironment, worker, 'worker').PRECISEINV_MAX_BATCH).toBe(4);
    expect(() => parseEnvironment(WorkerEnvironment, { ...worker, PRECISEINV_MAX_BATCH: 'abc' }, 'worker')).toThrow(/^worker configuration: PRECISEINV_MAX_BATCH: /);
  });
});

describe('the models a local server offers', () => {
  it('lists and accepts only the models it runs', async () => {
    const server = await startServer({ port: await freePort(), dataDir: await dataDir(), env: { PRECISEINV_API_KEYS: 'pk_local' }, models: ['tiny'] });
    try {
      const headers = { authorization: 'Bearer pk_local', 'content-type': 'application/json' };
      const listed = (await (await fetch(`${server.url}/v1/models`, { headers })).json()) as { models: { id: string }[] } | { id: string }[];
      const ids = (Array.isArray(listed) ? listed : listed.models).map((m) => m.id);
      expect(ids).toEqual(['tiny']);
      const refused = await fetch(`${server.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ model: 'sd15' }) });
      expect(refused.status).toBe(422);
      expect(((await refused.json()) as { issues: { message: string }[] }).issues[0]!.message).toBe("unknown model 'sd15'; known models: tiny");
    } finally {
      await server.stop();
    }
  });

  it('offers, by default, the registry models whose folder is on this machine', async () => {
    const server = await startServer({ port: await freePort(), dataDir: await dataDir(), env: { PRECISEINV_API_KEYS: 'pk_local' } });
    try {
      const refused = await fetch(`${server.url}/v1/jobs`, { method: 'POST', headers: { authorization: 'Bearer pk_local', 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sd15' }) });
      expect(refused.status).toBe(422);
    } finally {
      await server.stop();
    }
  });
});
