/**
 * The one-machine stand-ins for S3's presigned POST and GET. The upload route checks the signed
 * policy in its URL (key, size, expiry) before it reads the body, reads the body only up to the
 * policy's limit, checks the image type by its magic bytes, then writes the object once: a job's
 * input never changes after it was accepted, and the job is queued at once.
 */
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { jobIdOfUploadKey } from '../../../shared/contracts/queue-message.ts';
import { sniffImageType } from '../../../shared/platform/image-signature.ts';
import { LOCAL_OBJECT_PATH, LOCAL_UPLOAD_PATH, LocalSignatureError, type LocalUploadPolicy, type LocalUrlSigner } from '../../../shared/platform/local-url-signer.ts';
import { PreconditionFailedError } from '../../../shared/platform/object-store.ts';
import type { ApiDeps, ApiEnv } from '../api-deps.ts';
import { ApiProblem } from '../api-problem.ts';

/** Room for the multipart framing and the other form fields around the file. */
const FORM_OVERHEAD_BYTES = 64 * 1024;

function verified<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof LocalSignatureError) throw new ApiProblem(403, 'signature-refused', error.message);
    throw new ApiProblem(403, 'signature-refused', 'the upload policy is not readable; use the upload URL exactly as returned');
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));

export function registerLocalObjectRoutes(app: Hono<ApiEnv>, deps: ApiDeps, signer: LocalUrlSigner): void {
  const now = deps.now ?? (() => new Date());
  const tooLarge = (maxBytes: number): never => {
    throw new ApiProblem(413, 'upload-too-large', `the upload exceeds ${maxBytes} bytes`);
  };

  async function store(c: Context<ApiEnv>, policy: LocalUploadPolicy): Promise<Response> {
    const form = await c.req.parseBody().catch((error: unknown) => {
      if (error instanceof ApiProblem) throw error;
      throw new ApiProblem(400, 'malformed-request', 'send multipart/form-data with the returned fields and the image as "file"');
    });
    const field = (name: string): string | undefined => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
    if (field('key') !== policy.key) throw new ApiProblem(403, 'signature-refused', `the key field must be '${policy.key}'`);
    const file = form.file;
    if (!(file instanceof File)) throw new ApiProblem(400, 'malformed-request', 'the image must be sent as the form field "file", after the other fields');
    const declared = field('Content-Type') ?? '';
    if (!declared.startsWith(policy.contentTypePrefix)) {
      throw new ApiProblem(415, 'not-an-image', `the Content-Type field must start with '${policy.contentTypePrefix}', got '${declared}'`);
    }
    if (file.size > policy.maxBytes) tooLarge(policy.maxBytes);
    if (file.size < policy.minBytes) throw new ApiProblem(400, 'upload-too-small', `the upload must have at least ${policy.minBytes} byte(s)`);
    const bytes = new Uint8Array(await file.arrayBuffer());
    const type = sniffImageType(bytes);
    if (!type) throw new ApiProblem(415, 'not-an-image', 'the file is not a PNG, JPEG or WebP image (checked by its leading bytes)');
    try {
      await deps.objects.put(policy.key, bytes, { contentType: type, condition: { ifNoneMatch: '*' } });
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      // The same bytes again is a client retry; anything else would change an accepted input.
      const existing = await deps.objects.get(policy.key);
      if (existing && sameBytes(existing.body, bytes)) return c.body(null, 204);
      throw new ApiProblem(409, 'input-already-uploaded', `this job already has its image; an accepted input never changes: create a new job for another image`);
    }
    const jobId = jobIdOfUploadKey(policy.key);
    if (jobId) {
      const at = now().toISOString();
      await deps.jobs.update(jobId, (job) => (job.status === 'awaiting_upload' ? { ...job, status: 'queued', timings: { ...job.timings, queuedAt: job.timings.queuedAt ?? at } } : undefined));
    }
    return c.body(null, 204);
  }

  app.post(LOCAL_UPLOAD_PATH, async (c) => {
    const policy = verified(() => signer.verifyPost({ policy: c.req.query('policy'), signature: c.req.query('signature') }));
    const limit = policy.maxBytes + FORM_OVERHEAD_BYTES;
    const declaredLength = Number(c.req.header('content-length'));
    if (Number.isFinite(declaredLength) && declaredLength > limit) tooLarge(policy.maxBytes);
    let response: Response | undefined;
    await bodyLimit({ maxSize: limit, onError: () => tooLarge(policy.maxBytes) })(c, async () => {
      response = await store(c, policy);
    });
    return response ?? c.res;
  });

  app.get(`${LOCAL_OBJECT_PATH}/*`, async (c) => {
    let key: string;
    try {
      key = c.req.path.slice(LOCAL_OBJECT_PATH.length + 1).split('/').map(decodeURIComponent).join('/');
    } catch {
      throw new ApiProblem(400, 'malformed-request', 'the download path is not valid percent-encoding; use the URL exactly as returned');
    }
    verified(() => signer.verifyGet(key, c.req.query('expires'), c.req.query('signature')));
    const object = await deps.objects.get(key);
    if (!object) throw new ApiProblem(404, 'not-found', `no object '${key}'`);
    return c.body(object.body.slice().buffer, 200, { 'content-type': object.contentType ?? 'application/octet-stream' });
  });
}
