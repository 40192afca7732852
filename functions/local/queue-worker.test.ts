import { mkdtemp } from 'node:fs/promises';
import { silentLogger } from '../../shared/platform/logger.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { modelRegistry } from '../../models/registry.ts';
import { createLocalPlatform } from '../../shared/platform/local-platform.ts';
import { ApiKeyRing } from '../api/api-keys.ts';
import { createApp } from '../api/app.ts';
import { OTHER_KEY, TEST_KEY, uploadForm } from '../../shared/testing/api-client.ts';
import { workerScenarios } from './worker.scenarios.ts';

const BASE = 'http://127.0.0.1:8080';

describe('worker on the one-machine platform', () => {
  workerScenarios(async ({ maxReceiveCount }) => {
    const platform = createLocalPlatform({ dataDir: await mkdtemp(join(tmpdir(), 'preciseinv-worker-')), baseUrl: BASE, signingSecret: 's', models: ['tiny'], maxReceiveCount });
    const app = createApp({
      objects: platform.objects,
      jobs: platform.jobs,
      batches: platform.batches,
      queueFor: platform.queueFor,
      models: modelRegistry,
      apiKeys: ApiKeyRing.fromKeys([TEST_KEY, OTHER_KEY]),
      upload: { maxBytes: 1024, expiresInSeconds: 60 },
      downloadExpiresInSeconds: 60,
      logger: silentLogger(),
      localSigner: platform.signer,
    });
    return {
      app,
      objects: platform.objects,
      jobs: platform.jobs,
      queue: platform.queueFor('tiny'),
      deadLetter: platform.deadLetters.get('tiny')!,
      upload: async (upload, bytes) => app.request(upload.url.slice(BASE.length), { method: 'POST', body: uploadForm(upload.fields, bytes) }),
      download: async (url) => new Uint8Array(await (await app.request(url.slice(BASE.length))).arrayBuffer()),
    };
  }, 1);
});
