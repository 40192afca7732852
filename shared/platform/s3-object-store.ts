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
import {
  PreconditionFailedError,
  type ObjectHead,
  type ObjectStore,
  type PresignedPost,
  type PresignedPostRequest,
  type PutOptions,
  type StoredObject,
} from './object-store.ts';

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
