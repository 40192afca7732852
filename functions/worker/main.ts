/**
 * The worker container's entry: the engine on this task's model (downloaded from the bucket into
 * PRECISEINV_MODEL_CACHE on start), on CUDA when the GPU is there, behind the queue worker process.
 */
import { createAwsClients } from '../../shared/platform/aws-clients.ts';
import { S3ObjectStore } from '../../shared/platform/s3-object-store.ts';
import { EngineRunner } from './engine-runner.ts';
import { ModelCache } from './model-cache.ts';
import { runWorkerProcess } from './worker-process.ts';
import { jsonLogger } from './worker-logger.ts';

const env = process.env;
const logger = jsonLogger({ service: 'preciseinv-worker', model: env.PRECISEINV_MODEL });

async function main(): Promise<void> {
  const bucket = env.PRECISEINV_BUCKET;
  const model = env.PRECISEINV_MODEL;
  if (!bucket || !model) throw new Error('worker configuration: PRECISEINV_BUCKET and PRECISEINV_MODEL are required');
  const clients = createAwsClients(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {});
  const cache = ModelCache.fromEnv(new S3ObjectStore(clients.s3, bucket), env, logger);
  const batch = Number(env.PRECISEINV_MAX_BATCH ?? 4);
  const runner = new EngineRunner({ cache, maxBatchSize: Number.isInteger(batch) && batch >= 1 ? batch : 4, logger });
  // Download and open the model before taking jobs, so a bad model stops the task instead of failing jobs.
  await runner.warm(model);
  await runWorkerProcess(runner, env);
  await runner.close();
}

main().catch((error: unknown) => {
  logger.error('worker exited', { error: (error as Error).message });
  process.exitCode = 1;
});
