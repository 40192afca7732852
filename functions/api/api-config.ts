/**
 * The API's configuration on AWS, read from the environment the CDK app sets: the bucket, one
 * queue URL per model, API key hashes, upload limits. Errors name the variable to fix.
 */
import { createLogger } from '../../shared/platform/logger.ts';
import { z } from 'zod';
import { modelRegistry } from '../../models/registry.ts';
import { createAwsClients } from '../../shared/platform/aws-clients.ts';
import { BatchStore } from '../../shared/platform/batch-store.ts';
import { JobStore } from '../../shared/platform/job-store.ts';
import { S3ObjectStore } from '../../shared/platform/s3-object-store.ts';
import { SqsJobQueue } from '../../shared/platform/sqs-job-queue.ts';
import { parseEnvironment } from '../../shared/platform/environment.ts';
import { DEFAULT_MAX_UPLOAD_BYTES, type ApiDeps } from './api-deps.ts';
import { ApiKeyRing } from './api-keys.ts';

const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

export const ApiEnvironment = z.object({
  PRECISEINV_BUCKET: z.string().min(3),
  PRECISEINV_QUEUE_URLS: z
    .string()
    .transform((s, ctx) => {
      try {
        return z.record(z.string(), z.url()).parse(JSON.parse(s));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'expected JSON mapping model id to queue URL, e.g. {"sd15":"https://sqs..."}' });
        return z.NEVER;
      }
    }),
  /** SHA-256 hex of each key, comma-separated; the plain keys never reach the function. */
  PRECISEINV_API_KEY_HASHES: csv.pipe(z.array(z.string().regex(/^[0-9a-f]{64}$/)).min(1)),
  PRECISEINV_MAX_UPLOAD_BYTES: z.coerce.number({ message: 'expected a whole number of bytes' }).int('expected a whole number of bytes').positive('expected a positive number of bytes').default(DEFAULT_MAX_UPLOAD_BYTES),
  PRECISEINV_UPLOAD_EXPIRES_SECONDS: z.coerce.number().int().min(60).max(3600).default(900),
  PRECISEINV_DOWNLOAD_EXPIRES_SECONDS: z.coerce.number().int().min(60).max(604800).default(3600),
  AWS_ENDPOINT_URL: z.url().optional(),
});

/** `preciseinv serve` without a bucket: the one-machine platform in a data folder. */
export const LocalServerEnvironment = z.object({
  /** Comma-separated API keys; without them a development key is generated in the data folder. */
  PRECISEINV_API_KEYS: csv.optional(),
  PRECISEINV_MAX_UPLOAD_BYTES: z.coerce.number({ message: 'expected a whole number of bytes' }).int('expected a whole number of bytes').positive('expected a positive number of bytes').default(DEFAULT_MAX_UPLOAD_BYTES),
});

export function awsApiDeps(env: Record<string, string | undefined>): ApiDeps {
  const config = parseEnvironment(ApiEnvironment, env, 'API');
  const clients = createAwsClients(config.AWS_ENDPOINT_URL ? { endpoint: config.AWS_ENDPOINT_URL } : {});
  const objects = new S3ObjectStore(clients.s3, config.PRECISEINV_BUCKET);
  const queues = new Map(Object.entries(config.PRECISEINV_QUEUE_URLS).map(([model, url]) => [model, new SqsJobQueue(clients.sqs, url)]));
  const models = modelRegistry.filter((m) => queues.has(m.id));
  return {
    objects,
    jobs: new JobStore(objects),
    batches: new BatchStore(objects),
    queueFor: (model) => {
      const queue = queues.get(model);
      if (!queue) throw new Error(`no queue configured for model '${model}' in PRECISEINV_QUEUE_URLS`);
      return queue;
    },
    models,
    apiKeys: new ApiKeyRing(config.PRECISEINV_API_KEY_HASHES),
    upload: { maxBytes: config.PRECISEINV_MAX_UPLOAD_BYTES, expiresInSeconds: config.PRECISEINV_UPLOAD_EXPIRES_SECONDS },
    downloadExpiresInSeconds: config.PRECISEINV_DOWNLOAD_EXPIRES_SECONDS,
    logger: createLogger({ service: 'preciseinv-api' }),
  };
}
