/** GET /healthz: liveness for load balancers; no dependencies checked, so it never flaps with S3. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { ApiEnv } from '../api-deps.ts';

const health = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness',
  // Load balancers call it without a key.
  security: [],
  responses: { 200: { description: 'alive', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
});

export function registerHealthRoute(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(health, (c) => c.json({ status: 'ok' as const }, 200));
}
