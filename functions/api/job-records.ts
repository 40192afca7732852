/** Building job records and the views the API returns for them (presigned upload and output URLs). */
import { createHash, randomBytes } from 'node:crypto';
import { JobId, JobOutputName, type Job } from '../../shared/contracts/job.ts';
import { OutputName } from '../../shared/contracts/job-request.ts';
import { toJobView, type JobView, type PresignedUpload } from '../../shared/contracts/job-view.ts';
import type { ModelManifest } from '../../shared/contracts/model-manifest.ts';
import { checkWebhookDestination, WebhookDestinationError } from '../../shared/platform/webhook-destination.ts';
import type { ApiDeps } from './api-deps.ts';
import { ApiProblem, notFound } from './api-problem.ts';
import { UnreadableRecordError } from '../../shared/platform/json-record-store.ts';
import type { Logger } from '../../shared/platform/logger.ts';

export const randomId = (prefix: string): string => `${prefix}-${randomBytes(12).toString('hex')}`;

/** A stable hash of a parsed request, to tell a retry from a different request under the same Idempotency-Key. */
export function requestHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

export function findModel(deps: ApiDeps, id: string, path: string): ModelManifest {
  const model = deps.models.find((m) => m.id === id);
  if (model) return model;
  const known = deps.models.map((m) => m.id).join(', ');
  throw new ApiProblem(422, 'unknown-model', `unknown model '${id}'`, [{ path, message: `unknown model '${id}'; known models: ${known}`, code: 'unknown_model' }]);
}

/** Refuses a webhook the worker would never call; a name that does not resolve now is left to delivery. */
export async function checkWebhook(deps: ApiDeps, url: string | undefined, path: string): Promise<void> {
  if (!url) return;
  try {
    await checkWebhookDestination(url, deps.webhookPolicy ?? { allowLoopback: false });
  } catch (error) {
    if (!(error instanceof WebhookDestinationError)) return;
    throw new ApiProblem(422, 'webhook-refused', error.message, [{ path, message: error.message, code: 'webhook_refused' }]);
  }
}

export async function presignUpload(deps: ApiDeps, job: Job): Promise<PresignedUpload> {
  const post = await deps.objects.presignPost({
    key: job.input.key,
    minBytes: 1,
    maxBytes: deps.upload.maxBytes,
    contentType: job.input.contentType,
    contentTypePrefix: 'image/',
    expiresInSeconds: deps.upload.expiresInSeconds,
  });
  return { url: post.url, fields: post.fields, expiresAt: post.expiresAt.toISOString(), maxBytes: deps.upload.maxBytes };
}

/** The job as the owner sees it: a fresh upload form while it awaits its image, download links once done. */
export async function viewJob(deps: ApiDeps, job: Job): Promise<JobView> {
  const links: JobView['outputs'] = {};
  if (job.status === 'succeeded') {
    for (const name of JobOutputName.options) {
      const key = job.outputs[name];
      if (key) links[name] = { key, url: await deps.objects.presignGet(key, deps.downloadExpiresInSeconds) };
    }
  }
  return toJobView(job, links, job.status === 'awaiting_upload' ? await presignUpload(deps, job) : undefined);
}

/**
 * The caller's own job, or 404: another key's job is indistinguishable from a missing one. A stored
 * record that cannot be read is a problem for its owner (when it still names one) and 404 to everyone else.
 */
export async function ownedJob(deps: ApiDeps, id: string, owner: string): Promise<{ value: Job; etag: string }> {
  const record = JobId.safeParse(id).success ? await readOwned(deps.logger, () => deps.jobs.get(id), 'job', id, owner) : undefined;
  if (!record || record.value.owner !== owner) throw notFound('job', id);
  return record;
}

/** Reads a record, turning an unreadable one into the answer its owner (and only its owner) gets. */
export async function readOwned<T>(log: Logger, read: () => Promise<T>, what: string, id: string, owner: string): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof UnreadableRecordError)) throw error;
    log.error('unreadable record', { key: error.key, reason: error.reason });
    if (error.owner !== owner) return undefined;
    throw new ApiProblem(500, 'unreadable-record', `the stored record of ${what} '${id}' is damaged (${error.reason}); it cannot be shown or changed: create the ${what} again`);
  }
}

/**
 * Stores a new job under its id unless one is there: a retried create with the same body gets the
 * stored job back (created false); another body under the same Idempotency-Key is refused.
 */
export async function createJobOnce(deps: ApiDeps, job: Job): Promise<{ created: boolean; job: Job }> {
  const { created, record } = await deps.jobs.createIfAbsent(job.id, job);
  if (!created && record.value.requestHash !== job.requestHash) {
    throw new ApiProblem(409, 'idempotency-key-reused', 'this Idempotency-Key was already used with a different request body; use a new key for a new job', [
      { path: 'header.idempotency-key', message: `already used for job '${job.id}'` },
    ]);
  }
  return { created, job: record.value };
}
