/**
 * The worker container's entry: the engine on this task's model (downloaded from the bucket into
 * PRECISEINV_MODEL_CACHE on start), on CUDA when the GPU is there, behind the queue worker process.
 */
import { createAwsClients } from '../../shared/platform/aws-clients.ts';
import { S3ObjectStore } from '../../shared/platform/s3-object-store.ts';
import { EngineRunner } from './engine-runner.ts';
import { ModelCache } from './model-cache.ts';
import { parseEnvironment } from '../../shared/platform/environment.ts';
import { runWorkerProcess, WorkerEnvironment } from './worker-process.ts';
import { createLogger } from '../../shared/platform/logger.ts';

const env = process.env;
const logger = createLogger({ service: 'preciseinv-worker', model: env.PRECISEINV_MODEL });

async function main(): Promise<void> {
  // Every variable is checked before the model is downloaded, so a typo stops the task at once.
  const config = parseEnvironment(WorkerEnvironment, env, 'worker');
  const model = config.PRECISEINV_MODEL;
  const clients = createAwsClients(config.AWS_ENDPOINT_URL ? { endpoint: config.AWS_ENDPOINT_URL } : {});
  const cache = ModelCache.fromEnv(new S3ObjectStore(clients.s3, config.PRECISEINV_BUCKET), env, logger);
  const runner = new EngineRunner({ cache, maxBatchSize: config.PRECISEINV_MAX_BATCH, logger });
  // Download and open the model before taking jobs, so a bad model stops the task instead of failing jobs.
  await runner.warm(model);
  await runWorkerProcess(runner, env);
  await runner.close();
}

main().catch((error: unknown) => {
  logger.error('worker exited', { error: (error as Error).message });
  process.exitCode = 1;
});
