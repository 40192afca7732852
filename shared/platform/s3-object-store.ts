/**
 * ObjectStore on Amazon S3 (AWS SDK v3). Conditional writes use PutObject If-None-Match: * and
 * If-Match: etag, which S3 evaluates atomically; moto 5 checks them too, but not atomically
 * under concurrent requests, so races are tested against the local adapter only.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import {
  PreconditionFailedError,
  type ObjectHead,
  type ObjectStore,
  type PresignedPost,
  type PresignedPostRequest,
  type PutOptions,
  type StoredObject,
} from './object-store.ts';
import { streamToFile } from './stream-to-file.ts';

const unquote = (etag: string | undefined): string => (etag ?? '').replaceAll('"', '');

function isMissing(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 404 || error.name === 'NoSuchKey' || error.name === 'NotFound');
}

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const condition = options.condition;
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          IfNoneMatch: condition && 'ifNoneMatch' in condition ? '*' : undefined,
          IfMatch: condition && 'ifMatch' in condition ? `"${condition.ifMatch}"` : undefined,
        }),
      );
      return { etag: unquote(out.ETag) };
    } catch (error) {
      // 412: condition false; 409: a concurrent conditional write won; 404: If-Match on a deleted key.
      const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
      if (condition && (status === 412 || status === 409 || status === 404)) throw new PreconditionFailedError(key, condition);
      throw error;
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = await out.Body!.transformToByteArray();
      return { body, etag: unquote(out.ETag), size: body.length, contentType: out.ContentType };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Pipes the response body to disk as it arrives; only a socket buffer's worth is in memory at a time. */
  async getToFile(key: string, path: string): Promise<ObjectHead | undefined> {
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const body = out.Body;
    if (!body) throw new Error(`GetObject of '${key}' in bucket '${this.bucket}' returned no body`);
    // In Node the SDK hands back the HTTP response stream; the web-stream branch covers other runtimes' handlers.
    const stream = body instanceof Readable ? body : Readable.fromWeb(body.transformToWebStream() as Parameters<typeof Readable.fromWeb>[0]);
    const size = await streamToFile(stream, path, {
      source: `s3://${this.bucket}/${key}`,
      ...(out.ContentLength !== undefined ? { expectedBytes: out.ContentLength } : {}),
    });
    return { etag: unquote(out.ETag), size, contentType: out.ContentType };
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { etag: unquote(out.ETag), size: out.ContentLength ?? 0, contentType: out.ContentType };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async *list(prefix: string): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of out.Contents ?? []) if (object.Key) yield object.Key;
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async presignPost(request: PresignedPostRequest): Promise<PresignedPost> {
    const expiresAt = new Date(Date.now() + request.expiresInSeconds * 1000);
    const post = await createPresignedPost(this.client, {
      Bucket: this.bucket,
      Key: request.key,
      Fields: { 'Content-Type': request.contentType },
      Conditions: [
        ['content-length-range', request.minBytes, request.maxBytes],
        ['starts-with', '$Content-Type', request.contentTypePrefix],
      ],
      Expires: request.expiresInSeconds,
    });
    return { url: post.url, fields: post.fields, expiresAt };
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresInSeconds });
  }
}
