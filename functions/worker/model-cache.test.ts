import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../shared/platform/fs-object-store.ts';
import { LocalUrlSigner } from '../../shared/platform/local-url-signer.ts';
import type { ObjectStore } from '../../shared/platform/object-store.ts';
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

  it('streams every file to disk and never reads one into memory', async () => {
    const inner = await bucket();
    const weights = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251);
    await inner.put('models/big/unet/model.onnx', weights);
    await inner.put('models/big/model_index.json', bytes('{}'));
    const streamed: string[] = [];
    // The cache may list and stream; a whole-object read of a model file is the bug this guards against.
    const objects: ObjectStore = {
      ...bind(inner),
      get: async (key) => {
        throw new Error(`model file '${key}' was read into memory`);
      },
      getToFile: async (key, path) => {
        streamed.push(key);
        return inner.getToFile(key, path);
      },
    };
    const dir = await new ModelCache(objects, { dir: await mkdtemp(join(tmpdir(), 'pi-cache-')) }).ensure('big');
    expect(streamed.sort()).toEqual(['models/big/model_index.json', 'models/big/unet/model.onnx']);
    expect(Buffer.compare(readFileSync(join(dir, 'unet', 'model.onnx')), Buffer.from(weights))).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, CACHE_COMPLETE), 'utf8'))).toMatchObject({ files: 2, bytes: weights.length + 2 });
  });

  it('leaves no partial copy when a download fails, and the next call starts over', async () => {
    const inner = await bucket();
    await inner.put('models/m/a.json', bytes('a'));
    await inner.put('models/m/b.onnx', bytes('b'));
    let broken = true;
    const objects: ObjectStore = {
      ...bind(inner),
      getToFile: async (key, path) => {
        if (broken && key.endsWith('b.onnx')) throw new Error('ECONNRESET while reading b.onnx');
        return inner.getToFile(key, path);
      },
    };
    const root = await mkdtemp(join(tmpdir(), 'pi-cache-'));
    const cache = new ModelCache(objects, { dir: root });
    await expect(cache.ensure('m')).rejects.toThrow(/ECONNRESET/);
    expect(readdirSync(root)).toEqual([]);
    broken = false;
    expect(readFileSync(join(await cache.ensure('m'), 'b.onnx'), 'utf8')).toBe('b');
  });
});

/** The store's methods as plain functions, so a test can replace some of them. */
function bind(store: ObjectStore): ObjectStore {
  return {
    put: (...a) => store.put(...a),
    get: (...a) => store.get(...a),
    getToFile: (...a) => store.getToFile(...a),
    head: (...a) => store.head(...a),
    delete: (...a) => store.delete(...a),
    list: (...a) => store.list(...a),
    presignPost: (...a) => store.presignPost(...a),
    presignGet: (...a) => store.presignGet(...a),
  };
}
