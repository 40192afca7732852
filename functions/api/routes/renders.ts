/**
 * POST /v1/jobs/{id}/renders and POST /v1/interpolations: jobs of the render and interpolation
 * kinds, made from the caller's own succeeded inversions and queued on their model's queue. They
 * are followed, canceled and called back like any job (GET/DELETE /v1/jobs/{id}).
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { type Job } from '../../../shared/contracts/job.ts';
import { JobView } from '../../../shared/contracts/job-view.ts';
import { jobMessageBody } from '../../../shared/contracts/queue-message.ts';
import { InterpolationRequest, LATENT_CONTENT_TYPE, RenderRequest, type RenderSource, type RenderWork } from '../../../shared/contracts/render-job.ts';
import type { ApiDeps, ApiEnv } from '../api-deps.ts';
import { ApiProblem } from '../api-problem.ts';
import { newJobRecord } from '../../../shared/contracts/new-job-record.ts';
import { checkWebhook, createJobOnce, ownedJob, randomId, requestHash, viewJob } from '../job-records.ts';
import { IdempotencyHeaders } from './jobs.ts';
import { problemResponses } from './problem-responses.ts';

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

const createRender = createRoute({
  method: 'post',
  path: '/v1/jobs/{id}/renders',
  summary: "Render a succeeded inversion's latent again, with a new prompt (an edit) or its own (its reconstruction)",
  request: { params: z.object({ id: z.string().describe('the inversion job') }), headers: IdempotencyHeaders, body: { required: true, content: { 'application/json': { schema: RenderRequest } } } },
  responses: { 201: json(JobView, 'queued; follow it at /v1/jobs/{id}; outputs.image is the render'), 200: json(JobView, 'the job an earlier request with this Idempotency-Key created'), ...problemResponses },
});

const createInterpolation = createRoute({
  method: 'post',
  path: '/v1/interpolations',
  summary: 'Frames between the latents of two succeeded inversions of one model, as a contact sheet and an animated WebP',
  request: { headers: IdempotencyHeaders, body: { required: true, content: { 'application/json': { schema: InterpolationRequest } } } },
  responses: { 201: json(JobView, 'queued; follow it at /v1/jobs/{id}; outputs.contactSheet and outputs.animation'), 200: json(JobView, 'the job an earlier request with this Idempotency-Key created'), ...problemResponses },
});

/** A source must be one of the caller's inversions that succeeded with its latent kept. */
async function sourceOf(deps: ApiDeps, id: string, owner: string, path: string, needsTrajectory: boolean): Promise<{ job: Job; source: RenderSource }> {
  const { value: job } = await ownedJob(deps, id, owner);
  if (job.render) throw new ApiProblem(422, 'not-an-inversion', `job '${id}' is a ${job.render.kind} job; renders start from an inversion's latent`, [{ path, message: 'not an inversion job' }]);
  if (job.status !== 'succeeded') throw new ApiProblem(409, 'source-not-ready', `job '${id}' is ${job.status}; a render needs a succeeded inversion`, [{ path, message: `job is ${job.status}` }]);
  const latent = job.outputs.latent;
  if (!latent) throw new ApiProblem(422, 'no-latent', `job '${id}' did not keep its latent (outputs: ${Object.keys(job.outputs).join(', ')}); invert again with the 'latent' output`, [{ path, message: 'no latent output' }]);
  const trajectory = job.outputs.trajectory;
  if (needsTrajectory && !trajectory) {
    throw new ApiProblem(422, 'no-trajectory', `a strength below 1 starts from the trajectory of job '${id}', which did not keep it; use strength 1, or invert again with the 'trajectory' output`, [{ path: 'body.strength', message: 'the source has no trajectory' }]);
  }
  return { job, source: { job: id, latent, ...(needsTrajectory && trajectory ? { trajectory } : {}) } };
}

export function registerRenderRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const now = deps.now ?? (() => new Date());

  /** Creates the job once per Idempotency-Key, and queues it on its model's queue. */
  async function create(owner: string, idempotencyKey: string | undefined, kind: RenderWork['kind'], body: unknown, from: Job, work: RenderWork, webhook: string | undefined): Promise<{ created: boolean; job: Job }> {
    await checkWebhook(deps, webhook, 'body.webhook');
    const id = idempotencyKey ? `r-${requestHash([owner, kind, idempotencyKey]).slice(0, 24)}` : randomId('r');
    const job = newJobRecord({
      id,
      owner,
      model: from.model,
      batchId: null,
      params: from.params,
      input: { key: work.kind === 'render' ? work.source.latent : work.sources[0].latent, contentType: LATENT_CONTENT_TYPE },
      render: work,
      webhook: webhook ?? null,
      status: 'queued',
      requestHash: requestHash(body),
      now: now(),
    });
    const stored = await createJobOnce(deps, job);
    // Sent again on a retried create: a duplicate message is harmless (claims are conditional).
    await deps.queueFor(stored.job.model).send(jobMessageBody(id));
    return stored;
  }

  app.openapi(createRender, async (c) => {
    const body = c.req.valid('json');
    const owner = c.get('owner');
    const sourceId = c.req.valid('param').id;
    const { job: from, source } = await sourceOf(deps, sourceId, owner, 'path.id', body.strength < 1);
    const work: RenderWork = {
      kind: 'render',
      source,
      ...(body.prompt !== undefined ? { prompt: body.prompt } : {}),
      ...(body.negativePrompt !== undefined ? { negativePrompt: body.negativePrompt } : {}),
      ...(body.guidance !== undefined ? { guidance: body.guidance } : {}),
      strength: body.strength,
    };
    const { created, job } = await create(owner, c.req.valid('header')['idempotency-key'], 'render', { source: sourceId, ...body }, from, work, body.webhook);
    return c.json(await viewJob(deps, job), created ? 201 : 200);
  });

  app.openapi(createInterpolation, async (c) => {
    const body = c.req.valid('json');
    const owner = c.get('owner');
    const [a, b] = await Promise.all(body.jobs.map((id, k) => sourceOf(deps, id, owner, `body.jobs.${k}`, false)));
    const differs = (['model', 'steps', 'prompt', 'guidance'] as const).find((f) => (f === 'model' ? a!.job.model !== b!.job.model : a!.job.params[f] !== b!.job.params[f]));
    if (differs) {
      const value = (s: Job) => JSON.stringify(differs === 'model' ? s.model : s.params[differs]);
      throw new ApiProblem(422, 'sources-differ', `jobs '${body.jobs[0]}' and '${body.jobs[1]}' differ in ${differs} (${value(a!.job)} vs ${value(b!.job)}); an interpolation needs two inversions of one model, step count, prompt and guidance`, [
        { path: 'body.jobs', message: `different ${differs}` },
      ]);
    }
    const work: RenderWork = { kind: 'interpolation', sources: [a!.source, b!.source], frames: body.frames, mode: body.mode };
    const { created, job } = await create(owner, c.req.valid('header')['idempotency-key'], 'interpolation', body, a!.job, work, body.webhook);
    return c.json(await viewJob(deps, job), created ? 201 : 200);
  });
}

