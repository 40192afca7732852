import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../shared/platform/fs-object-store.ts';
import { LocalUrlSigner } from '../../shared/platform/local-url-signer.ts';
import { CACHE_COMPLETE, ModelCache } from './model-cache.ts';

async function bucket(): Promise<FsObjectStore> {
  return new FsObjectStore({ root: await mkdtemp(join(tmpdir(), 'pi-bucket-')), signer: new LocalUrlSigner('s', 'http://127.0.0.1:1') });
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('the worker model cache', () => {
  it('copies models/{id}/ once into the cache folder and reuses it', async () => {
    const objects = await bucket();
    await objects.put('models/tiny/model_index.json', bytes('{"_class_name":"X"}'));
    await objects.put('models/tiny/unet/model.onnx', bytes('onnx'));
    await objects.put('models/tinier/unet/model.onnx', bytes('other model'));
    const dir = await mkdtemp(join(tmpdir(), 'pi-cache-'));
    const cache = ModelCache.fromEnv(objects, { PRECISEINV_MODEL_CACHE: dir });
    const [a, b] = await Promise.all([cache.ensure('tiny'), cache.ensure('tiny')]);
    expect(a).toBe(join(dir, 'preciseinv-models', 'tiny'));
    expect(b).toBe(a);
    expect(readFileSync(join(a, 'unet', 'model.onnx'), 'utf8')).toBe('onnx');
    expect(existsSync(join(a, CACHE_COMPLETE))).toBe(true);
    expect(readdirSync(a).sort()).toEqual([CACHE_COMPLETE, 'model_index.json', 'unet']);
    // A new process finds the complete copy and downloads nothing.
    await objects.delete('models/tiny/unet/model.onnx');
    expect(await new ModelCache(objects, { dir: join(dir, 'preciseinv-models') }).ensure('tiny')).toBe(a);
    expect(readdirSync(join(dir, 'preciseinv-models'))).toEqual(['tiny']);
  });

  it('names a model missing from the bucket and retries on the next call', async () => {
    const objects = await bucket();
    const cache = new ModelCache(objects, { dir: await mkdtemp(join(tmpdir(), 'pi-cache-')) });
    await expect(cache.ensure('sd15')).rejects.toThrow(/no model files under 'models\/sd15\/'/);
    await objects.put('models/sd15/model_index.json', bytes('{}'));
    expect(readFileSync(join(await cache.ensure('sd15'), 'model_index.json'), 'utf8')).toBe('{}');
  });
});
