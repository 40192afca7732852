/**
 * Signs and checks the upload and download URLs of the one-machine mode, the local stand-in for
 * S3 presigned POST and GET: an HMAC-SHA256 over a policy that carries the key, the byte range,
 * the content-type prefix and the expiry.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { PresignedPost, PresignedPostRequest } from './object-store.ts';

export const LocalUploadPolicy = z.object({
  key: z.string().min(1),
  minBytes: z.number().int().nonnegative(),
  maxBytes: z.number().int().positive(),
  contentTypePrefix: z.string(),
  expiresAt: z.number().int(),
});
export type LocalUploadPolicy = z.infer<typeof LocalUploadPolicy>;

export const LOCAL_ROUTE_PREFIX = '/v1/local';
export const LOCAL_UPLOAD_PATH = `${LOCAL_ROUTE_PREFIX}/uploads`;
export const LOCAL_OBJECT_PATH = `${LOCAL_ROUTE_PREFIX}/objects`;

/** Why a signed local URL or form was refused; the route answers 403 with this message. */
export class LocalSignatureError extends Error {
  override name = 'LocalSignatureError';
}

export class LocalUrlSigner {
  constructor(
    private readonly secret: string,
    /** Origin the API listens on, e.g. http://127.0.0.1:8080. */
    readonly baseUrl: string,
    private readonly now: () => number = Date.now,
  ) {}

  signPost(request: PresignedPostRequest): PresignedPost {
    const expiresAt = this.now() + request.expiresInSeconds * 1000;
    const policy: LocalUploadPolicy = {
      key: request.key,
      minBytes: request.minBytes,
      maxBytes: request.maxBytes,
      contentTypePrefix: request.contentTypePrefix,
      expiresAt,
    };
    const encoded = Buffer.from(JSON.stringify(policy)).toString('base64url');
    const signature = this.mac(`post\n${encoded}`);
    // The URL carries the policy too, so the route checks it before it reads a byte of the body.
    return {
      url: `${this.baseUrl}${LOCAL_UPLOAD_PATH}?policy=${encoded}&signature=${signature}`,
      fields: { key: request.key, 'Content-Type': request.contentType, policy: encoded, signature },
      expiresAt: new Date(expiresAt),
    };
  }

  /** Checks an upload URL's policy and signature; returns the policy the upload must then satisfy. */
  verifyPost(query: { policy?: string | undefined; signature?: string | undefined }): LocalUploadPolicy {
    if (!query.policy || !query.signature) throw new LocalSignatureError('post the upload to its URL exactly as returned: it carries the policy and signature');
    if (!this.equal(this.mac(`post\n${query.policy}`), query.signature)) throw new LocalSignatureError('the upload signature does not match its policy');
    const policy = LocalUploadPolicy.parse(JSON.parse(Buffer.from(query.policy, 'base64url').toString('utf8')));
    if (this.now() > policy.expiresAt) throw new LocalSignatureError(`the upload URL expired at ${new Date(policy.expiresAt).toISOString()}; request a new one`);
    return policy;
  }

  signGet(key: string, expiresInSeconds: number): string {
    const expires = this.now() + expiresInSeconds * 1000;
    const path = key.split('/').map(encodeURIComponent).join('/');
    return `${this.baseUrl}${LOCAL_OBJECT_PATH}/${path}?expires=${expires}&signature=${this.mac(`get\n${key}\n${expires}`)}`;
  }

  verifyGet(key: string, expires: string | undefined, signature: string | undefined): void {
    if (!expires || !signature) throw new LocalSignatureError('the download URL needs its expires and signature parameters');
    if (!this.equal(this.mac(`get\n${key}\n${expires}`), signature)) throw new LocalSignatureError('the download signature does not match');
    if (this.now() > Number(expires)) throw new LocalSignatureError('the download URL expired; fetch the job again for fresh URLs');
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('hex');
  }

  private equal(expected: string, given: string): boolean {
    const a = Buffer.from(expected);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
