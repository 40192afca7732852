/** POST /v1/jobs, GET /v1/jobs/{id}, DELETE /v1/jobs/{id}. */
import { newJobRecord } from '../../../shared/contracts/new-job-record.ts';
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { uploadKey } from '../../../shared/contracts/queue-message.ts';
import { JobRequest, resolveParams } from '../../../shared/contracts/job-request.ts';
import { isTerminal } from '../../../shared/contracts/job-status.ts';
import { JobView } from '../../../shared/contracts/job-view.ts';
import type { ApiDeps, ApiEnv } from '../api-deps.ts';
import { ApiProblem } from '../api-problem.ts';
import { checkWebhook, createJobOnce, findModel, ownedJob, randomId, requestHash, viewJob } from '../job-records.ts';
import { problemResponses } from './problem-responses.ts';
import { checkSolverBounds } from '../solver-bounds.ts';

export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional()
    .describe('repeat a create with the same key and body to get the same job back instead of a second one'),
});

const JobParams = z.object({ id: z.string().describe('job id') });
const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

const createJob = createRoute({
  method: 'post',
  path: '/v1/jobs',
  summary: 'Create an inversion job and get a presigned POST for its image',
  request: { headers: IdempotencyHeaders, body: { required: true, content: { 'application/json': { schema: JobRequest } } } },
  responses: { 201: json(JobView, 'created; upload the image with `upload`'), 200: json(JobView, 'the job an earlier request with this Idempotency-Key created'), ...problemResponses },
});

const getJob = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}',
  summary: 'Status, progress, timings, error, and output URLs once succeeded',
  request: { params: JobParams },
  responses: { 200: json(JobView, 'the job'), ...problemResponses },
});

const cancelJob = createRoute({
  method: 'delete',
  path: '/v1/jobs/{id}',
  summary: 'Cancel a job that has not finished',
  request: { params: JobParams },
  responses: { 200: json(JobView, 'canceled (or already canceled)'), ...problemResponses },
});

/** With an Idempotency-Key the job id is derived from it, so a retried create finds the first job. */
function jobIdFor(owner: string, idempotencyKey: string | undefined): string {
  return idempotencyKey ? `j-${requestHash([owner, idempotencyKey]).slice(0, 24)}` : randomId('j');
}

export function registerJobRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const now = deps.now ?? (() => new Date());

  app.openapi(createJob, async (c) => {
    const body = c.req.valid('json');
    const { 'idempotency-key': idempotencyKey } = c.req.valid('header');
    const owner = c.get('owner');
    const model = findModel(deps, body.model, 'body.model');
    await checkWebhook(deps, body.webhook, 'body.webhook');
    const params = resolveParams(model.inversionDefaults, body);
    checkSolverBounds(params, 'body.eta');
    const id = jobIdFor(owner, idempotencyKey);
    const job = newJobRecord({
      id,
      owner,
      model: model.id,
      batchId: null,
      params,
      input: { key: uploadKey(model.id, id), contentType: body.contentType },
      webhook: body.webhook ?? null,
      status: 'awaiting_upload',
      requestHash: requestHash(body),
      now: now(),
    });
    const { created, job: stored } = await createJobOnce(deps, job);
    return c.json(await viewJob(deps, stored), created ? 201 : 200);
  });

  app.openapi(getJob, async (c) => {
    const { value } = await ownedJob(deps, c.req.valid('param').id, c.get('owner'));
    return c.json(await viewJob(deps, value), 200);
  });

  app.openapi(cancelJob, async (c) => {
    const { id } = c.req.valid('param');
    await ownedJob(deps, id, c.get('owner'));
    const result = await deps.jobs.update(id, (job) =>
      isTerminal(job.status) ? undefined : { ...job, status: 'canceled', lease: null, timings: { ...job.timings, finishedAt: now().toISOString() } },
    );
    const job = result!.record.value;
    if (!result!.changed && job.status !== 'canceled') {
      throw new ApiProblem(409, 'already-finished', `job '${id}' already ${job.status}; nothing to cancel`);
    }
    return c.json(await viewJob(deps, job), 200);
  });
}
