/** AWS Lambda entry (API Gateway / function URL events) for the API, configured from the environment. */
import { join } from 'node:path';
import { handle } from 'hono/aws-lambda';
import { awsApiDeps } from './api-config.ts';
import { createApp } from './app.ts';
import { readConsoleAssets } from './console-assets.ts';

// The CDK bundling writes the built console next to the handler (cdk/lib/api.ts).
const consoleDir = process.env.PRECISEINV_CONSOLE_DIR ?? join(import.meta.dirname, 'console');

export const handler = handle(createApp({ ...awsApiDeps(process.env), console: await readConsoleAssets(consoleDir) }));
