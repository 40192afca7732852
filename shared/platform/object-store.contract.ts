/** The behaviour every ObjectStore adapter owes its callers; run by object-store.contract.test.ts per adapter. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { JsonRecordStore } from './json-record-store.ts';
import { listAll, PreconditionFailedError, type ObjectStore } from './object-store.ts';
import { z } from 'zod';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined): string | undefined => (data ? new TextDecoder().decode(data) : undefined);

export function objectStoreContract(makeStore: () => Promise<ObjectStore>): void {
  it('round-trips bytes, content type and etag', async () => {
    const store = await makeStore();
    const { etag } = await store.put('a/b/one.json', bytes('{"x":1}'), { contentType: 'application/json' });
    const object = await store.get('a/b/one.json');
    expect(text(object?.body)).toBe('{"x":1}');
    expect(object?.etag).toBe(etag);
    expect(object?.contentType).toBe('application/json');
    expect(await store.head('a/b/one.json')).toEqual({ etag, size: 7, contentType: 'application/json' });
  });

  it('answers undefined for a missing key and deletes idempotently', async () => {
    const store = await makeStore();
    expect(await store.get('missing/key')).toBeUndefined();
    expect(await store.head('missing/key')).toBeUndefined();
    await store.put('gone/soon', bytes('x'));
    await store.delete('gone/soon');
    await store.delete('gone/soon');
    expect(await store.get('gone/soon')).toBeUndefined();
  });

  it('streams an object into a local file, replacing the file only once the copy is whole', async () => {
    const store = await makeStore();
    // Several megabytes: many chunks on every adapter, so the streaming path really is exercised.
    const body = new Uint8Array(randomBytes(3 * 1024 * 1024 + 17));
    const { etag } = await store.put('models/m/unet/model.onnx', body, { contentType: 'application/octet-stream' });
    const dir = await mkdtemp(join(tmpdir(), 'preciseinv-get-to-file-'));
    const path = join(dir, 'unet', 'model.onnx');
    const head = await store.getToFile('models/m/unet/model.onnx', path);
    expect(head).toEqual({ etag, size: body.length, contentType: 'application/octet-stream' });
    expect(Buffer.compare(await readFile(path), Buffer.from(body))).toBe(0);
    await store.put('models/m/unet/model.onnx', bytes('v2'));
    expect((await store.getToFile('models/m/unet/model.onnx', path))?.size).toBe(2);
    expect(await readFile(path, 'utf8')).toBe('v2');
    expect(await readdir(join(dir, 'unet'))).toEqual(['model.onnx']);
  });

  it('writes nothing for a missing key', async () => {
    const store = await makeStore();
    const dir = await mkdtemp(join(tmpdir(), 'preciseinv-get-to-file-'));
    await writeFile(join(dir, 'kept'), 'old');
    expect(await store.getToFile('missing/key', join(dir, 'kept'))).toBeUndefined();
    expect(await store.getToFile('missing/key', join(dir, 'sub', 'new'))).toBeUndefined();
    expect(await readdir(dir)).toEqual(['kept']);
    expect(await readFile(join(dir, 'kept'), 'utf8')).toBe('old');
  });

  it('creates with If-None-Match only once', async () => {
    const store = await makeStore();
    await store.put('once', bytes('first'), { condition: { ifNoneMatch: '*' } });
    await expect(store.put('once', bytes('second'), { condition: { ifNoneMatch: '*' } })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(text((await store.get('once'))?.body)).toBe('first');
  });

  it('replaces with If-Match only the version that was read', async () => {
    const store = await makeStore();
    const v1 = await store.put('doc', bytes('v1'));
    const v2 = await store.put('doc', bytes('v2'), { condition: { ifMatch: v1.etag } });
    await expect(store.put('doc', bytes('v3'), { condition: { ifMatch: v1.etag } })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(text((await store.get('doc'))?.body)).toBe('v2');
    expect(v2.etag).not.toBe(v1.etag);
    await expect(store.put('never-written', bytes('x'), { condition: { ifMatch: v1.etag } })).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  it('lists keys under a prefix in order, including keys with spaces and plus signs', async () => {
    const store = await makeStore();
    for (const key of ['p/c', 'p/a b+c', 'p/b/deep', 'q/other']) await store.put(key, bytes(key));
    expect(await listAll(store, 'p/')).toEqual(['p/a b+c', 'p/b/deep', 'p/c']);
    expect(text((await store.get('p/a b+c'))?.body)).toBe('p/a b+c');
  });

  it('presigns a POST bound to one key with an expiry', async () => {
    const store = await makeStore();
    const post = await store.presignPost({ key: 'uploads/m/j1/input', minBytes: 1, maxBytes: 100, contentType: 'image/png', contentTypePrefix: 'image/', expiresInSeconds: 60 });
    expect(post.fields.key).toBe('uploads/m/j1/input');
    expect(post.fields['Content-Type']).toBe('image/png');
    expect(post.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(await store.presignGet('uploads/m/j1/input', 60)).toMatch(/^https?:\/\//);
  });

  it('keeps a JSON record consistent under a read-modify-write update', async () => {
    const store = await makeStore();
    const records = new JsonRecordStore(store, z.object({ n: z.number() }), (id) => `records/${id}.json`);
    expect((await records.createIfAbsent('r', { n: 0 })).created).toBe(true);
    expect((await records.createIfAbsent('r', { n: 5 })).record.value).toEqual({ n: 0 });
    for (let i = 0; i < 3; i++) await records.update('r', (r) => ({ n: r.n + 1 }));
    expect((await records.get('r'))?.value).toEqual({ n: 3 });
    expect(await records.update('absent', (r) => r)).toBeUndefined();
  });
}
