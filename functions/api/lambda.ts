/** AWS Lambda entry (API Gateway / function URL events) for the API, configured from the environment. */
import { handle } from 'hono/aws-lambda';
import { awsApiDeps } from './api-config.ts';
import { createApp } from './app.ts';

export const handler = handle(createApp(awsApiDeps(process.env)));
