/**
 * ObjectStore on a local folder, for the one-machine mode. Writes go to a temporary file and are
 * renamed into place (atomic on one filesystem); ETags are content hashes; conditional writes are
 * atomic within this process via a per-key lock, so one process owns a data folder.
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KeyLock } from './key-lock.ts';
import type { LocalUrlSigner } from './local-url-signer.ts';
import { streamToFile } from './stream-to-file.ts';
import {
  InvalidObjectKeyError,
  isValidObjectKey,
  PreconditionFailedError,
  type ObjectHead,
  type ObjectStore,
  type PresignedPost,
  type PresignedPostRequest,
  type PutOptions,
  type StoredObject,
} from './object-store.ts';

export interface FsObjectStoreOptions {
  root: string;
  signer: LocalUrlSigner;
  /** Called after each successful put: the local stand-in for S3 event notifications. */
  onObjectCreated?: (key: string, head: ObjectHead) => Promise<void>;
}

/** Rejects keys that could escape the root or collide with the metadata folder. */
function checkKey(key: string): void {
  if (!isValidObjectKey(key)) throw new InvalidObjectKeyError(key);
}

const newEtagHash = (): Hash => createHash('sha256');
const etagDigest = (hash: Hash): string => hash.digest('hex').slice(0, 32);

function etagOf(body: Uint8Array): string {
  return etagDigest(newEtagHash().update(body));
}

/** Passes chunks on unchanged while hashing them, so a streamed copy gets its ETag in the same pass. */
function hashing(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

export class FsObjectStore implements ObjectStore {
  private readonly lock = new KeyLock();
  private readonly dataDir: string;
  private readonly metaDir: string;
  private readonly tmpDir: string;

  constructor(private readonly options: FsObjectStoreOptions) {
    this.dataDir = join(options.root, 'objects');
    this.metaDir = join(options.root, 'object-meta');
    this.tmpDir = join(options.root, 'tmp');
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    checkKey(key);
    const etag = etagOf(body);
    await this.lock.with(key, async () => {
      const condition = options.condition;
      if (condition) {
        const current = await this.head(key);
        if ('ifNoneMatch' in condition ? current !== undefined : current?.etag !== condition.ifMatch) {
          throw new PreconditionFailedError(key, condition);
        }
      }
      await this.writeAtomically(join(this.metaDir, `${key}.json`), new TextEncoder().encode(JSON.stringify({ contentType: options.contentType })));
      await this.writeAtomically(join(this.dataDir, key), body);
    });
    await this.options.onObjectCreated?.(key, { etag, size: body.length, contentType: options.contentType });
    return { etag };
  }

  async get(key: string): Promise<StoredObject | undefined> {
    checkKey(key);
    const body = await readFile(join(this.dataDir, key)).catch(missingAsUndefined);
    if (!body) return undefined;
    const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    return { body: bytes, etag: etagOf(bytes), size: bytes.length, contentType: await this.contentType(key) };
  }

  async getToFile(key: string, path: string): Promise<ObjectHead | undefined> {
    checkKey(key);
    // Opened before anything is written, so a missing key leaves no trace; a concurrent put renames
    // a new file into place and leaves this open one whole.
    const file = await open(join(this.dataDir, key)).catch(missingAsUndefined);
    if (!file) return undefined;
    const hash = newEtagHash();
    const size = await streamToFile(file.createReadStream(), path, { through: hashing(hash), source: `object '${key}'` });
    return { etag: etagDigest(hash), size, contentType: await this.contentType(key) };
  }

  /** Hashes the file as a stream: a head of a model file must not read it into memory. */
  async head(key: string): Promise<ObjectHead | undefined> {
    checkKey(key);
    const file = await open(join(this.dataDir, key)).catch(missingAsUndefined);
    if (!file) return undefined;
    const hash = newEtagHash();
    let size = 0;
    await pipeline(file.createReadStream(), async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
      }
    });
    return { etag: etagDigest(hash), size, contentType: await this.contentType(key) };
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.lock.with(key, async () => {
      await rm(join(this.dataDir, key), { force: true });
      await rm(join(this.metaDir, `${key}.json`), { force: true });
      // S3 has no folders: one left empty here would outlive its last object.
      await removeEmptyParents(this.dataDir, key);
      await removeEmptyParents(this.metaDir, key);
    });
  }

  async *list(prefix: string): AsyncIterable<string> {
    const keys: string[] = [];
    await this.walk(this.dataDir, keys);
    yield* keys.filter((k) => k.startsWith(prefix)).sort();
  }

  async presignPost(request: PresignedPostRequest): Promise<PresignedPost> {
    checkKey(request.key);
    return this.options.signer.signPost(request);
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    checkKey(key);
    return this.options.signer.signGet(key, expiresInSeconds);
  }

  private async contentType(key: string): Promise<string | undefined> {
    const meta = await readFile(join(this.metaDir, `${key}.json`), 'utf8').catch(missingAsUndefined);
    return meta ? (JSON.parse(meta) as { contentType?: string }).contentType : undefined;
  }

  private async writeAtomically(path: string, body: Uint8Array): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
    const tmp = join(this.tmpDir, randomUUID());
    await writeFile(tmp, body);
    await rename(tmp, path).catch(async (error: NodeJS.ErrnoException) => {
      // A delete of the folder's last other object may have removed the folder meanwhile.
      if (error.code !== 'ENOENT') throw error;
      await mkdir(dirname(path), { recursive: true });
      await rename(tmp, path);
    });
  }

  private async walk(dir: string, out: string[]): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(missingAsUndefined);
    for (const entry of entries ?? []) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await this.walk(path, out);
      else out.push(relative(this.dataDir, path).split(sep).join('/'));
    }
  }
}

/** Removes the key's folders from the deepest up while they are empty, never the root itself. */
async function removeEmptyParents(root: string, key: string): Promise<void> {
  const segments = key.split('/').slice(0, -1);
  for (let depth = segments.length; depth > 0; depth--) {
    try {
      await rmdir(join(root, ...segments.slice(0, depth)));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Not empty (another object, or a concurrent put), or already gone: stop or go on up.
      if (code === 'ENOENT') continue;
      return;
    }
  }
}

function missingAsUndefined(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
  throw error;
}
