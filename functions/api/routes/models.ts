/** GET /v1/models: the models this service inverts, with their defaults and resolution rule. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { InversionDefaults, ModelId, ResolutionRule } from '../../../shared/contracts/model-manifest.ts';
import type { ApiDeps, ApiEnv } from '../api-deps.ts';
import { problemResponses } from './problem-responses.ts';

const ModelSummary = z
  .object({ id: ModelId, displayName: z.string(), family: z.string(), resolution: ResolutionRule, inversionDefaults: InversionDefaults })
  .meta({ id: 'ModelSummary' });

const listModels = createRoute({
  method: 'get',
  path: '/v1/models',
  summary: 'Models and their default inversion parameters',
  responses: { 200: { description: 'the models', content: { 'application/json': { schema: z.object({ models: z.array(ModelSummary) }) } } }, 401: problemResponses[401], 429: problemResponses[429], 500: problemResponses[500] },
});

export function registerModelRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const models = deps.models.map(({ id, displayName, family, resolution, inversionDefaults }) => ({ id, displayName, family, resolution, inversionDefaults }));
  app.openapi(listModels, (c) => c.json({ models }, 200));
}
