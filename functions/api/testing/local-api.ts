/** The API over the one-machine platform in a temporary folder, for tests that need no server. */
import { silentLogger } from '../../../shared/platform/logger.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelRegistry } from '../../../models/registry.ts';
import { createLocalPlatform, type LocalPlatform } from '../../../shared/platform/local-platform.ts';
import type { ApiDeps } from '../api-deps.ts';
import { ApiKeyRing } from '../api-keys.ts';
import { createApp } from '../app.ts';
import { OTHER_KEY, TEST_KEY } from '../../../shared/testing/api-client.ts';


export async function localApi(overrides: Partial<ApiDeps> = {}): Promise<{ app: ReturnType<typeof createApp>; platform: LocalPlatform; deps: ApiDeps }> {
  const platform = createLocalPlatform({
    dataDir: await mkdtemp(join(tmpdir(), 'preciseinv-api-')),
    baseUrl: 'http://127.0.0.1:8080',
    signingSecret: 'test-secret',
    models: modelRegistry.map((m) => m.id),
    maxReceiveCount: 3,
  });
  const deps: ApiDeps = {
    objects: platform.objects,
    jobs: platform.jobs,
    batches: platform.batches,
    queueFor: platform.queueFor,
    models: modelRegistry,
    apiKeys: ApiKeyRing.fromKeys([TEST_KEY, OTHER_KEY]),
    upload: { maxBytes: 1024, expiresInSeconds: 60 },
    downloadExpiresInSeconds: 60,
    localSigner: platform.signer,
    logger: silentLogger(),
    ...overrides,
  };
  return { app: createApp(deps), platform, deps };
}
