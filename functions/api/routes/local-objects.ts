/**
 * The one-machine stand-ins for S3's presigned POST and GET: the upload route checks the signed
 * policy (key, expiry), the size and the image type by its magic bytes, then writes the object;
 * the download route serves an object to a signed URL.
 */
import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { sniffImageType } from '../../../shared/platform/image-signature.ts';
import { LOCAL_OBJECT_PATH, LOCAL_UPLOAD_PATH, LocalSignatureError, type LocalUrlSigner } from '../../../shared/platform/local-url-signer.ts';
import type { ApiDeps, ApiEnv } from '../api-deps.ts';
import { ApiProblem } from '../api-problem.ts';

/** Room for the multipart framing and the other form fields around the file. */
const FORM_OVERHEAD_BYTES = 64 * 1024;

function verified<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof LocalSignatureError) throw new ApiProblem(403, 'signature-refused', error.message);
    throw new ApiProblem(403, 'signature-refused', 'the upload policy is not readable; send the fields exactly as returned');
  }
}

export function registerLocalObjectRoutes(app: Hono<ApiEnv>, deps: ApiDeps, signer: LocalUrlSigner): void {
  const tooLarge = (): never => {
    throw new ApiProblem(413, 'upload-too-large', `the upload exceeds ${deps.upload.maxBytes} bytes`);
  };

  app.post(LOCAL_UPLOAD_PATH, bodyLimit({ maxSize: deps.upload.maxBytes + FORM_OVERHEAD_BYTES, onError: tooLarge }), async (c) => {
    const form = await c.req.parseBody().catch(() => {
      throw new ApiProblem(400, 'malformed-request', 'send multipart/form-data with the returned fields and the image as "file"');
    });
    const field = (name: string): string | undefined => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
    const policy = verified(() => signer.verifyPost({ key: field('key'), policy: field('policy'), signature: field('signature') }));
    const file = form.file;
    if (!(file instanceof File)) throw new ApiProblem(400, 'malformed-request', 'the image must be sent as the form field "file", after the other fields');
    const declared = field('Content-Type') ?? '';
    if (!declared.startsWith(policy.contentTypePrefix)) {
      throw new ApiProblem(415, 'not-an-image', `the Content-Type field must start with '${policy.contentTypePrefix}', got '${declared}'`);
    }
    if (file.size > policy.maxBytes) tooLarge();
    if (file.size < policy.minBytes) throw new ApiProblem(400, 'upload-too-small', `the upload must have at least ${policy.minBytes} byte(s)`);
    const bytes = new Uint8Array(await file.arrayBuffer());
    const type = sniffImageType(bytes);
    if (!type) throw new ApiProblem(415, 'not-an-image', 'the file is not a PNG, JPEG or WebP image (checked by its leading bytes)');
    await deps.objects.put(policy.key, bytes, { contentType: type });
    return c.body(null, 204);
  });

  app.get(`${LOCAL_OBJECT_PATH}/*`, async (c) => {
    const key = c.req.path.slice(LOCAL_OBJECT_PATH.length + 1).split('/').map(decodeURIComponent).join('/');
    verified(() => signer.verifyGet(key, c.req.query('expires'), c.req.query('signature')));
    const object = await deps.objects.get(key);
    if (!object) throw new ApiProblem(404, 'not-found', `no object '${key}'`);
    return c.body(object.body.slice().buffer, 200, { 'content-type': object.contentType ?? 'application/octet-stream' });
  });
}
