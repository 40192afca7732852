/**
 * The HTTP API as one Hono app over ports: the same app serves Lambda, the Node server and tests.
 * Validation failures, auth failures and thrown ApiProblems all answer as problem+json.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ApiDeps, ApiEnv } from './api-deps.ts';
import { ApiProblem, issuesFromZod, problemResponse, toApiProblem } from './api-problem.ts';
import { apiKeyAuth } from './middleware/bearer-auth.ts';
import { registerBatchRoutes } from './routes/batches.ts';
import { registerConsoleRoutes } from './routes/console.ts';
import { registerHealthRoute } from './routes/health.ts';
import { registerJobStepRoutes } from './routes/job-steps.ts';
import { registerJobRoutes } from './routes/jobs.ts';
import { registerLocalObjectRoutes } from './routes/local-objects.ts';
import { registerModelRoutes } from './routes/models.ts';
import { registerProblemTypeRoutes } from './routes/problem-types.ts';
import { registerRenderRoutes } from './routes/renders.ts';

/** JSON bodies; the largest legitimate one is an import naming 1000 keys. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;

export function createApp(deps: ApiDeps): OpenAPIHono<ApiEnv> {
  const defaultHook: ConstructorParameters<typeof OpenAPIHono<ApiEnv>>[0] = {
    defaultHook: (result) => {
      if (!result.success) throw new ApiProblem(422, 'invalid-request', 'the request does not match the API schema; see issues', issuesFromZod(result.error, result.target === 'json' ? 'body' : result.target));
    },
  };
  const app = new OpenAPIHono<ApiEnv>(defaultHook);

  // Refusals from hono/bearer-auth carry their own problem response and challenge header.
  app.onError((error, c) => (error instanceof HTTPException && error.res ? error.getResponse() : problemResponse(c, toApiProblem(error, deps.logger))));
  app.notFound((c) => problemResponse(c, new ApiProblem(404, 'not-found', `no route ${c.req.method} ${c.req.path}; see /openapi.json`)));

  // Public routes come first: a request they answer never reaches the API key check mounted below.
  registerHealthRoute(app);
  registerProblemTypeRoutes(app);
  // Local upload and download URLs carry their own signatures instead of an API key.
  if (deps.localSigner) registerLocalObjectRoutes(app, deps, deps.localSigner);

  const jsonLimit = bodyLimit({
    maxSize: MAX_JSON_BODY_BYTES,
    onError: () => {
      throw new ApiProblem(413, 'body-too-large', `JSON bodies are limited to ${MAX_JSON_BODY_BYTES} bytes`);
    },
  });
  const v1 = new OpenAPIHono<ApiEnv>(defaultHook);
  v1.use('/v1/*', jsonLimit, apiKeyAuth(deps.apiKeys));
  registerModelRoutes(v1, deps);
  registerJobRoutes(v1, deps);
  registerJobStepRoutes(v1, deps);
  registerBatchRoutes(v1, deps);
  registerRenderRoutes(v1, deps);
  app.route('/', v1);
  if (deps.console) registerConsoleRoutes(app, deps, deps.console);

  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'an API key' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'PreciseInv', version: '1', description: 'Exact diffusion inversion as a service: upload images, get the noise latents that reproduce them.' },
    security: [{ apiKey: [] }],
  });
  return app;
}
