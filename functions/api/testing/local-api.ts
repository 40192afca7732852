/** The API over the one-machine platform in a temporary folder, for tests that need no server. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelRegistry } from '../../../models/registry.ts';
import { createLocalPlatform, type LocalPlatform } from '../../../shared/platform/local-platform.ts';
import type { ApiDeps } from '../api-deps.ts';
import { ApiKeyRing } from '../api-keys.ts';
import { createApp } from '../app.ts';

export const TEST_KEY = 'pk_test_owner_one';
export const OTHER_KEY = 'pk_test_owner_two';
export const PNG_BYTES = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

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
    ...overrides,
  };
  return { app: createApp(deps), platform, deps };
}

export function authed(key = TEST_KEY, init: RequestInit = {}): RequestInit {
  return { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } };
}

/** The form a client posts: the returned fields, then the file last (as S3 requires). */
export function uploadForm(fields: Record<string, string>, file: Uint8Array, type = 'image/png'): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('file', new Blob([file.slice().buffer], { type }), 'image');
  return form;
}
