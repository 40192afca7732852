import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FsObjectStore } from './fs-object-store.ts';
import { JsonRecordStore } from './json-record-store.ts';
import { LocalUrlSigner } from './local-url-signer.ts';
import { objectStoreContract } from './object-store.contract.ts';
import { listAll } from './object-store.ts';
import { S3ObjectStore } from './s3-object-store.ts';
import { createTestBucket, emulatorClients } from './testing/aws-emulator.ts';

async function fsStore(): Promise<FsObjectStore> {
  return new FsObjectStore({ root: await mkdtemp(join(tmpdir(), 'preciseinv-store-')), signer: new LocalUrlSigner('secret', 'http://127.0.0.1:1') });
}

describe('FsObjectStore', () => {
  objectStoreContract(fsStore);

  it('serialises concurrent conditional updates within the process', async () => {
    const records = new JsonRecordStore(await fsStore(), z.object({ n: z.number() }), (id) => `records/${id}.json`);
    await records.createIfAbsent('c', { n: 0 });
    await Promise.all(Array.from({ length: 20 }, () => records.update('c', (r) => ({ n: r.n + 1 }))));
    expect((await records.get('c'))?.value).toEqual({ n: 20 });
  });

  it('leaves no empty folder behind when a folder’s last object is deleted', async () => {
    const root = await mkdtemp(join(tmpdir(), 'preciseinv-store-'));
    const store = new FsObjectStore({ root, signer: new LocalUrlSigner('secret', 'http://127.0.0.1:1') });
    await store.put('checkpoints/j-1/step-000001-of-000004', new Uint8Array(3));
    await store.put('checkpoints/j-2/step-000001-of-000004', new Uint8Array(3));
    await store.delete('checkpoints/j-1/step-000001-of-000004');
    expect(await readdir(join(root, 'objects', 'checkpoints'))).toEqual(['j-2']);
    expect(await readdir(join(root, 'object-meta', 'checkpoints'))).toEqual(['j-2']);
    await store.delete('checkpoints/j-2/step-000001-of-000004');
    expect(await readdir(join(root, 'objects'))).toEqual([]);
    await store.put('checkpoints/j-2/step-000002-of-000004', new Uint8Array(3));
    expect(await listAll(store, 'checkpoints/')).toEqual(['checkpoints/j-2/step-000002-of-000004']);
  });

  it('refuses keys that would leave its folder', async () => {
    const store = await fsStore();
    await expect(store.put('../escape', new Uint8Array(1))).rejects.toThrow(/invalid object key/);
    await expect(store.get('a//b')).rejects.toThrow(/invalid object key/);
  });
});

describe('S3ObjectStore against the emulator', () => {
  const clients = emulatorClients();
  objectStoreContract(async () => new S3ObjectStore(clients.s3, await createTestBucket(clients)));

  it('binds the POST policy to the key, a byte range and an image type', async () => {
    const store = new S3ObjectStore(clients.s3, await createTestBucket(clients));
    const post = await store.presignPost({ key: 'uploads/m/j1/input', minBytes: 1, maxBytes: 1234, contentType: 'image/png', contentTypePrefix: 'image/', expiresInSeconds: 300 });
    // moto accepts uploads that break the policy, so the policy document itself is the evidence.
    const policy = JSON.parse(Buffer.from(post.fields.Policy!, 'base64').toString('utf8')) as { expiration: string; conditions: unknown[] };
    expect(policy.conditions).toEqual(
      expect.arrayContaining([['content-length-range', 1, 1234], ['starts-with', '$Content-Type', 'image/'], { key: 'uploads/m/j1/input' }, { bucket: store.bucket }]),
    );
    const expiresIn = new Date(policy.expiration).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(290_000);
    expect(expiresIn).toBeLessThanOrEqual(300_000);
  });
});

describe('S3ObjectStore.getToFile on a connection that breaks', () => {
  /** A client whose GetObject answers with the given body stream, as the SDK does in Node. */
  const answering = (body: () => Readable, contentLength: number): S3Client => ({ send: async () => ({ Body: body(), ContentLength: contentLength, ETag: '"e"' }) }) as unknown as S3Client;

  async function targetWithOldFile(): Promise<{ dir: string; path: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'preciseinv-s3-get-'));
    await writeFile(join(dir, 'model.onnx'), 'previous copy');
    return { dir, path: join(dir, 'model.onnx') };
  }

  it('leaves the target as it was when the body stream fails midway', async () => {
    const { dir, path } = await targetWithOldFile();
    const body = () =>
      Readable.from(
        (async function* () {
          yield Buffer.alloc(64 * 1024, 1);
          throw new Error('ECONNRESET: socket hang up');
        })(),
      );
    const store = new S3ObjectStore(answering(body, 1024 * 1024), 'bucket');
    await expect(store.getToFile('models/m/unet/model.onnx', path)).rejects.toThrow(/ECONNRESET/);
    expect(await readFile(path, 'utf8')).toBe('previous copy');
    expect(await readdir(dir)).toEqual(['model.onnx']);
  });

  it('refuses a body shorter than its Content-Length', async () => {
    const { dir, path } = await targetWithOldFile();
    const store = new S3ObjectStore(answering(() => Readable.from([Buffer.alloc(10)]), 100), 'bucket');
    await expect(store.getToFile('models/m/unet/model.onnx', path)).rejects.toThrow("copy of s3://bucket/models/m/unet/model.onnx to '" + path + "' was cut short: 10 of 100 bytes arrived");
    expect(await readFile(path, 'utf8')).toBe('previous copy');
    expect(await readdir(dir)).toEqual(['model.onnx']);
  });
});
