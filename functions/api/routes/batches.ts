/** POST /v1/batches, POST /v1/batches/{id}/import, GET /v1/batches/{id}. */
import { newJobRecord } from '../../../shared/contracts/new-job-record.ts';
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { batchJobId, BatchImportRequest, BatchImportResult, BatchRequest, BatchView, MAX_BATCH_JOBS, type Batch } from '../../../shared/contracts/job-batch.ts';
import { InputContentType, resolveParams } from '../../../shared/contracts/job-request.ts';
import type { Job } from '../../../shared/contracts/job.ts';
import type { JobStatus } from '../../../shared/contracts/job-status.ts';
import { jobMessageBody, uploadKey } from '../../../shared/contracts/queue-message.ts';
import type { ProblemIssue } from '../../../shared/contracts/problem.ts';
import { mapConcurrent } from '../../../shared/platform/map-concurrent.ts';
import { isValidObjectKey, listAll } from '../../../shared/platform/object-store.ts';
import type { ApiDeps, ApiEnv } from '../api-deps.ts';
import { ApiProblem, notFound } from '../api-problem.ts';
import { checkWebhook, findModel, randomId, readOwned, requestHash, viewJob } from '../job-records.ts';
import { problemResponses } from './problem-responses.ts';
import { checkSolverBounds } from '../solver-bounds.ts';

const BatchParams = z.object({ id: z.string().describe('batch id') });
const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

const createBatch = createRoute({
  method: 'post',
  path: '/v1/batches',
  summary: `Create up to ${MAX_BATCH_JOBS} jobs of one model at once, each with its own upload`,
  request: { body: { required: true, content: { 'application/json': { schema: BatchRequest } } } },
  responses: { 201: json(BatchView, 'created'), ...problemResponses },
});

const importBatch = createRoute({
  method: 'post',
  path: '/v1/batches/{id}/import',
  summary: 'Queue images already in the bucket under imports/{key id}/ as jobs of this batch',
  request: { params: BatchParams, body: { required: true, content: { 'application/json': { schema: BatchImportRequest } } } },
  responses: { 202: json(BatchImportResult, 'queued'), ...problemResponses },
});

const getBatch = createRoute({
  method: 'get',
  path: '/v1/batches/{id}',
  summary: 'A batch with status counts and its jobs',
  request: { params: BatchParams },
  responses: { 200: json(BatchView, 'the batch'), ...problemResponses },
});

export function registerBatchRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const now = deps.now ?? (() => new Date());

  async function ownedBatch(id: string, owner: string): Promise<Batch> {
    const record = /^b-[0-9a-f]{24}$/.test(id) ? await readOwned(deps.logger, () => deps.batches.get(id), 'batch', id, owner) : undefined;
    if (!record || record.value.owner !== owner) throw notFound('batch', id);
    return record.value;
  }

  function jobsOf(batch: Batch, from: number, inputs: readonly { key: string; contentType: InputContentType }[] | undefined, count: number): Promise<Job[]> {
    return mapConcurrent(Array.from({ length: count }, (_, i) => from + i), 16, async (index, i) => {
      const id = batchJobId(batch.id, index);
      const job = newJobRecord({
        id,
        owner: batch.owner,
        model: batch.model,
        batchId: batch.id,
        params: batch.params,
        input: inputs?.[i] ?? { key: uploadKey(batch.model, id), contentType: 'image/png' },
        webhook: batch.webhook,
        status: inputs ? 'queued' : 'awaiting_upload',
        requestHash: requestHash([batch.id, index]),
        now: now(),
      });
      return (await deps.jobs.createIfAbsent(id, job)).record.value;
    });
  }

  async function view(batch: Batch, jobs: Job[]): Promise<BatchView> {
    const counts: Partial<Record<JobStatus, number>> = {};
    for (const job of jobs) counts[job.status] = (counts[job.status] ?? 0) + 1;
    const { owner: _owner, ...visible } = batch;
    return { ...visible, counts, jobs: await mapConcurrent(jobs, 16, (job) => viewJob(deps, job)) };
  }

  app.openapi(createBatch, async (c) => {
    const body = c.req.valid('json');
    const model = findModel(deps, body.model, 'body.model');
    await checkWebhook(deps, body.webhook, 'body.webhook');
    const batch: Batch = {
      id: randomId('b'),
      owner: c.get('owner'),
      model: model.id,
      params: resolveParams(model.inversionDefaults, body.params),
      webhook: body.webhook ?? null,
      jobCount: body.count,
      createdAt: now().toISOString(),
    };
    checkSolverBounds(batch.params, 'body.params.eta');
    await deps.batches.createIfAbsent(batch.id, batch);
    return c.json(await view(batch, await jobsOf(batch, 0, undefined, body.count)), 201);
  });

  app.openapi(importBatch, async (c) => {
    const { id } = c.req.valid('param');
    const owner = c.get('owner');
    const body = c.req.valid('json');
    const batch = await ownedBatch(id, owner);
    const allowed = `imports/${owner}/`;
    if ('prefix' in body && !body.prefix.startsWith(allowed)) {
      throw new ApiProblem(422, 'import-not-allowed', `imports must come from under '${allowed}'`, [{ path: 'body.prefix', message: `must start with '${allowed}'` }]);
    }
    const keys = 'keys' in body ? body.keys : (await listAll(deps.objects, body.prefix)).slice(0, MAX_BATCH_JOBS + 1);
    const room = MAX_BATCH_JOBS - batch.jobCount;
    if (keys.length === 0) throw new ApiProblem(422, 'nothing-to-import', 'no objects under that prefix', [{ path: 'body.prefix', message: 'matches no objects' }]);
    if (keys.length > room) throw new ApiProblem(422, 'batch-full', `a batch holds at most ${MAX_BATCH_JOBS} jobs; this one has room for ${room} more, the import names ${keys.length}`);

    const badKeys = keys.flatMap((key, i) => (isValidObjectKey(key) ? [] : [{ path: 'keys' in body ? `body.keys.${i}` : 'body.prefix', message: `'${key}' is not a valid object key: use non-empty '/'-separated segments without '.' or '..'` }]));
    if (badKeys.length > 0) throw new ApiProblem(400, 'invalid-object-key', 'some keys are not valid object keys; nothing was queued', badKeys);

    const issues: ProblemIssue[] = [];
    const inputs = await mapConcurrent(keys, 16, async (key, i) => {
      const path = 'keys' in body ? `body.keys.${i}` : 'body.prefix';
      if (!key.startsWith(allowed)) return void issues.push({ path, message: `'${key}' is not under '${allowed}'` });
      const head = await deps.objects.head(key);
      if (!head) return void issues.push({ path, message: `no object '${key}'` });
      const type = InputContentType.safeParse(head.contentType);
      if (!type.success) return void issues.push({ path, message: `'${key}' has Content-Type '${head.contentType ?? 'none'}'; expected one of ${InputContentType.options.join(', ')}` });
      return { key, contentType: type.data };
    });
    if (issues.length > 0) throw new ApiProblem(422, 'invalid-import', 'some objects cannot be imported; nothing was queued', issues);

    // Reserving the index range with a conditional update keeps concurrent imports from colliding.
    const reserved = await deps.batches.update(id, (b) => (b.jobCount + keys.length > MAX_BATCH_JOBS ? undefined : { ...b, jobCount: b.jobCount + keys.length }));
    if (!reserved?.changed) throw new ApiProblem(409, 'batch-full', `the batch filled up meanwhile; it holds at most ${MAX_BATCH_JOBS} jobs`);
    const from = reserved.record.value.jobCount - keys.length;
    const jobs = await jobsOf(reserved.record.value, from, inputs as { key: string; contentType: InputContentType }[], keys.length);
    await deps.queueFor(batch.model).sendMany(jobs.map((job) => jobMessageBody(job.id)));
    return c.json({ batchId: id, jobs: await mapConcurrent(jobs, 16, (job) => viewJob(deps, job)) }, 202);
  });

  app.openapi(getBatch, async (c) => {
    const batch = await ownedBatch(c.req.valid('param').id, c.get('owner'));
    const { jobs, unreadable } = await deps.jobs.listByBatch(batch.id);
    // A damaged job record hides only itself; it is named in the log for the operator.
    for (const error of unreadable) deps.logger.error('unreadable record left out of a batch view', { key: error.key, reason: error.reason });
    return c.json(await view(batch, jobs), 200);
  });
}
