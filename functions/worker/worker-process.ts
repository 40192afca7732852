/**
 * A worker as a container process on AWS: one model's queue, the bucket, signed webhooks, and
 * SIGTERM (ECS stop, Spot interruption) turned into a graceful stop that checkpoints and hands
 * running jobs back at once. The engine is passed in by the container entry.
 */
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { modelRegistry } from '../../models/registry.ts';
import { createAwsClients } from '../../shared/platform/aws-clients.ts';
import { JobStore } from '../../shared/platform/job-store.ts';
import { S3ObjectStore } from '../../shared/platform/s3-object-store.ts';
import { SqsJobQueue } from '../../shared/platform/sqs-job-queue.ts';
import { parseEnvironment } from '../../shared/platform/environment.ts';
import type { InversionRunner } from './inversion-runner.ts';
import { QueueWorker } from './queue-worker.ts';
import { TaskProtection } from './task-protection.ts';
import { webhookPolicyFromEnv } from '../../shared/platform/webhook-destination.ts';
import { WebhookSender } from './webhook-sender.ts';
import { createLogger } from '../../shared/platform/logger.ts';

export const WorkerEnvironment = z.object({
  PRECISEINV_BUCKET: z.string().min(3),
  PRECISEINV_MODEL: z.string().min(1),
  PRECISEINV_QUEUE_URL: z.url(),
  /** The queue's dead-letter queue: jobs whose last attempt crashed are failed from it (needs receive rights). */
  PRECISEINV_DEAD_LETTER_QUEUE_URL: z.url().optional(),
  PRECISEINV_WEBHOOK_SECRET: z.string().min(16),
  /** Also the job lease; the heartbeat renews both at a third of it. */
  /** Touched on every poll and heartbeat; the container health check requires it fresh. */
  PRECISEINV_HEARTBEAT_FILE: z.string().min(1).optional(),
  PRECISEINV_VISIBILITY_TIMEOUT_SECONDS: z.coerce.number().int().min(30).max(43_200).default(300),
  AWS_ENDPOINT_URL: z.url().optional(),
  /** Set by ECS inside a task; the worker asks its agent for scale-in protection while jobs run. */
  ECS_AGENT_URI: z.string().min(1).optional(),
  /** How long one scale-in protection lasts before a heartbeat renews it; defaults to the model's job timeout. */
  PRECISEINV_JOB_TIMEOUT_SECONDS: z.coerce.number().int().min(60).optional(),
  /** Jobs per engine call. */
  PRECISEINV_MAX_BATCH: z.coerce.number().int().min(1).max(10).default(4),
});

/** The configured or registered job timeout; undefined for a model outside the registry. */
export function jobTimeoutSeconds(config: { PRECISEINV_MODEL: string; PRECISEINV_JOB_TIMEOUT_SECONDS?: number | undefined }): number | undefined {
  return config.PRECISEINV_JOB_TIMEOUT_SECONDS ?? modelRegistry.find((m) => m.id === config.PRECISEINV_MODEL)?.fleet.jobTimeoutSeconds;
}

/** The protection lifetime: the job timeout, else an hour. */
export function protectionMinutes(config: { PRECISEINV_MODEL: string; PRECISEINV_JOB_TIMEOUT_SECONDS?: number | undefined }): number {
  const seconds = jobTimeoutSeconds(config);
  return seconds === undefined ? 60 : Math.ceil(seconds / 60);
}

function heartbeatFile(path: string): () => void {
  return () => writeFileSync(path, `${new Date().toISOString()}\n`);
}

export async function runWorkerProcess(runner: InversionRunner, env: Record<string, string | undefined> = process.env): Promise<void> {
  const config = parseEnvironment(WorkerEnvironment, env, 'worker');
  const clients = createAwsClients(config.AWS_ENDPOINT_URL ? { endpoint: config.AWS_ENDPOINT_URL } : {});
  const objects = new S3ObjectStore(clients.s3, config.PRECISEINV_BUCKET);
  const logger = createLogger({ service: 'preciseinv-worker', model: config.PRECISEINV_MODEL });
  const taskProtection = new TaskProtection({ agentUri: config.ECS_AGENT_URI, expiresInMinutes: protectionMinutes(config), logger });
  const worker = new QueueWorker(
    {
      objects,
      jobs: new JobStore(objects),
      queue: new SqsJobQueue(clients.sqs, config.PRECISEINV_QUEUE_URL),
      ...(config.PRECISEINV_DEAD_LETTER_QUEUE_URL ? { deadLetter: new SqsJobQueue(clients.sqs, config.PRECISEINV_DEAD_LETTER_QUEUE_URL) } : {}),
      runner,
      logger,
      webhooks: new WebhookSender({ secret: config.PRECISEINV_WEBHOOK_SECRET, attempts: 6, baseDelayMs: 2000, timeoutMs: 10_000, destination: webhookPolicyFromEnv(env) }, logger),
      ...(config.PRECISEINV_HEARTBEAT_FILE ? { onAlive: heartbeatFile(config.PRECISEINV_HEARTBEAT_FILE) } : {}),
      taskProtection,
    },
    { visibilityTimeoutSeconds: config.PRECISEINV_VISIBILITY_TIMEOUT_SECONDS, waitSeconds: 20, ...(jobTimeoutSeconds(config) ? { jobTimeoutSeconds: jobTimeoutSeconds(config)! } : {}) },
  );
  const stop = (signal: string): void => {
    logger.info('stopping', { signal, workerId: worker.workerId });
    void worker.stop();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  if (!config.PRECISEINV_DEAD_LETTER_QUEUE_URL) logger.warn('PRECISEINV_DEAD_LETTER_QUEUE_URL is not set: a job whose every attempt crashes stays running');
  logger.info('worker started', { workerId: worker.workerId, maxBatchSize: runner.maxBatchSize });
  await worker.start();
  // Let the last protection change reach the agent before the process winds down.
  await taskProtection.idle();
  logger.info('worker stopped', { counters: worker.counters });
}
