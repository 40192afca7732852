/**
 * The object store port: the bucket as the API and the worker see it. Adapters: S3ObjectStore
 * (AWS SDK v3) and FsObjectStore (one machine). ETags are opaque, unquoted strings.
 */

export interface ObjectHead {
  etag: string;
  size: number;
  contentType: string | undefined;
}

export interface StoredObject extends ObjectHead {
  body: Uint8Array;
}

/** `ifNoneMatch: '*'` creates only; `ifMatch` replaces only the version the caller read. */
export type WriteCondition = { ifNoneMatch: '*' } | { ifMatch: string };

export interface PutOptions {
  contentType?: string;
  condition?: WriteCondition;
}

/** What a presigned POST allows: exactly one key, a byte range and a content-type prefix, until expiry. */
export interface PresignedPostRequest {
  key: string;
  minBytes: number;
  maxBytes: number;
  /** Prefilled Content-Type field; the client may replace it with any type under contentTypePrefix. */
  contentType: string;
  contentTypePrefix: string;
  expiresInSeconds: number;
}

export interface PresignedPost {
  url: string;
  /** Form fields to send before the file field, as given. */
  fields: Record<string, string>;
  expiresAt: Date;
}

export interface ObjectStore {
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<{ etag: string }>;
  /** Reads the whole object into memory: for records, images and other objects of bounded size. */
  get(key: string): Promise<StoredObject | undefined>;
  /**
   * Streams the object into the local file `path` without holding it in memory (model weights run
   * to gigabytes). The bytes go to a temporary file beside `path`, renamed into place once
   * complete, so `path` never holds a partial object; parent folders are created. Resolves to the
   * object's head, or to undefined (and writes nothing) when the key does not exist.
   */
  getToFile(key: string, path: string): Promise<ObjectHead | undefined>;
  head(key: string): Promise<ObjectHead | undefined>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Keys under prefix in lexicographic order. */
  list(prefix: string): AsyncIterable<string>;
  presignPost(request: PresignedPostRequest): Promise<PresignedPost>;
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
}

/** A conditional write whose condition did not hold: someone else wrote first, or the key is gone. */
export class PreconditionFailedError extends Error {
  override name = 'PreconditionFailedError';
  constructor(readonly key: string, condition: WriteCondition) {
    super(`conditional write of '${key}' failed (${'ifMatch' in condition ? `If-Match ${condition.ifMatch}` : 'If-None-Match *'})`);
  }
}

/** A key no store accepts: empty, `.`/`..` or empty segments (`//`), backslashes or NUL, over 1024 characters. */
export class InvalidObjectKeyError extends Error {
  override name = 'InvalidObjectKeyError';
  constructor(readonly key: string) {
    super(`invalid object key '${key}': use non-empty '/'-separated segments without '.' or '..'`);
  }
}

export function isValidObjectKey(key: string): boolean {
  const segments = key.split('/');
  return key.length > 0 && key.length <= 1024 && !segments.some((s) => s === '' || s === '.' || s === '..') && !key.includes('\\') && !key.includes('\0');
}

/** Collects an object listing, for callers that want all keys at once. */
export async function listAll(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys;
}
