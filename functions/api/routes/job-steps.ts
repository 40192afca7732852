/**
 * GET /v1/jobs/{id}/steps: the per-timestep residual, iterations and model evaluations so far.
 *
 * Clients poll it (the console backs off while nothing changes) rather than holding a stream:
 * behind API Gateway's HTTP API a Lambda response arrives whole, so server-sent events would only
 * be delivered when the function returns, and a held stream would bill a Lambda for the whole run.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { JobSteps } from '../../../shared/contracts/job-steps.ts';
import type { ApiDeps, ApiEnv } from '../api-deps.ts';
import { ownedJob } from '../job-records.ts';
import { readJobSteps } from '../job-step-records.ts';
import { problemResponses } from './problem-responses.ts';

const getJobSteps = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/steps',
  summary: 'Per-timestep residual, iterations and model evaluations of a job, as far as it has run',
  description: 'Poll with backoff while the job runs; `steps` grows by one entry per completed timestep.',
  request: { params: z.object({ id: z.string().describe('job id') }) },
  responses: { 200: { description: 'the steps so far', content: { 'application/json': { schema: JobSteps } } }, 401: problemResponses[401], 404: problemResponses[404], 429: problemResponses[429], 500: problemResponses[500] },
});

export function registerJobStepRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  app.openapi(getJobSteps, async (c) => {
    const { value: job } = await ownedJob(deps, c.req.valid('param').id, c.get('owner'));
    const steps = await readJobSteps(deps.objects, job, deps.logger);
    return c.json({ id: job.id, status: job.status, progress: job.progress, eta: job.params.eta, steps }, 200);
  });
}
