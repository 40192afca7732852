/**
 * Every problem type the API answers with (RFC 9457): its title, which never varies with the
 * status, and what it means for the caller. A problem's `type` is the URI of its page,
 * `/problems/{slug}`, which the API serves from this table.
 */
export const PROBLEM_TYPES = {
  'malformed-request': { title: 'Malformed request', description: 'The request could not be read: its body is not valid JSON or not the form data the route takes. Send one JSON object (or the upload form as returned).' },
  'malformed-authorization': { title: 'Malformed Authorization header', description: "The Authorization header is not of the form 'Bearer <API key>'." },
  unauthorized: { title: 'Unauthorized', description: "No API key was sent, or the key is not valid. Send 'Authorization: Bearer <API key>'." },
  'signature-refused': { title: 'Signature refused', description: 'A signed upload or download URL was changed, has expired or does not match its policy. Use the URL exactly as returned, before it expires.' },
  'not-found': { title: 'Not found', description: 'No such resource for this API key (another key\'s jobs and batches read as missing), or no such route.' },
  'invalid-object-key': { title: 'Invalid object key', description: 'An object key is not one the service accepts (empty, too long, or with path segments such as ..).' },
  'already-finished': { title: 'Already finished', description: 'The job has finished (succeeded or failed) and can no longer be canceled.' },
  'batch-full': { title: 'Batch full', description: 'The batch cannot take that many more jobs; create another batch for the rest.' },
  'idempotency-key-reused': { title: 'Idempotency-Key reused', description: 'An earlier request with this Idempotency-Key had a different body; use a new key for a different request.' },
  'input-already-uploaded': { title: 'Input already uploaded', description: "The job's image was uploaded already; a job's input never changes. Create a new job for another image." },
  'body-too-large': { title: 'Body too large', description: 'The JSON body exceeds the size the route accepts.' },
  'upload-too-large': { title: 'Upload too large', description: 'The uploaded file exceeds the size its upload form allows.' },
  'upload-too-small': { title: 'Upload too small', description: 'The upload carries no file, or an empty one.' },
  'not-an-image': { title: 'Not an image', description: 'The uploaded bytes are not a PNG, JPEG or WebP image.' },
  'unsupported-media-type': { title: 'Unsupported media type', description: 'The route takes a JSON body: send it with the header content-type: application/json.' },
  'invalid-request': { title: 'Invalid request', description: 'The request is well formed but does not match the API schema; `issues` names each field and what was expected.' },
  'invalid-import': { title: 'Invalid import', description: 'Some objects named in a batch import cannot be imported (missing, or not an image type); `issues` names each. Nothing was queued.' },
  'import-not-allowed': { title: 'Import not allowed', description: 'This service does not import objects into batches, or not from that prefix.' },
  'nothing-to-import': { title: 'Nothing to import', description: 'The import names no objects, or none under the given prefix.' },
  'unknown-model': { title: 'Unknown model', description: 'The model id is not one this service runs; GET /v1/models lists them.' },
  'unreachable-eta': { title: 'Unreachable eta', description: "eta is below what a float32 residual can reach, so every step would run all its iterations; use an eta at or above the bound the detail gives." },
  'not-an-inversion': { title: 'Not an inversion', description: 'A render or interpolation starts from an inversion job\'s latent; the job named is itself a render or an interpolation.' },
  'source-not-ready': { title: 'Source not ready', description: 'The inversion a render or interpolation starts from has not succeeded (yet); wait until it has, or name another.' },
  'no-latent': { title: 'No latent', description: "The inversion named did not keep its latent output, which a render starts from; invert again with the 'latent' output." },
  'no-trajectory': { title: 'No trajectory', description: "A render with strength below 1 starts from the inversion's trajectory, which the job did not keep; use strength 1, or invert again with the 'trajectory' output." },
  'sources-differ': { title: 'Sources differ', description: 'An interpolation needs two inversions of one model, step count, prompt and guidance; the detail names the field that differs.' },
  'webhook-refused': { title: 'Webhook refused', description: 'The webhook URL names a destination the service does not call (a private or loopback address, or a host that resolves to one).' },
  'unreadable-record': { title: 'Unreadable record', description: 'The stored record of this job or batch is damaged and cannot be shown or changed; create it again.' },
  'http-error': { title: 'HTTP error', description: 'The request was refused at the HTTP level; the status and detail say why.' },
  internal: { title: 'Internal error', description: 'The request failed inside the service. Retry, and report it if it persists.' },
} as const satisfies Record<string, { title: string; description: string }>;

export type ProblemSlug = keyof typeof PROBLEM_TYPES;

export const PROBLEM_TYPE_PATH = '/problems';
