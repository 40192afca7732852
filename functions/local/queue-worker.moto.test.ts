import { describe } from 'vitest';
import { silentLogger } from '../../shared/platform/logger.ts';
import { modelRegistry } from '../../models/registry.ts';
import { BatchStore } from '../../shared/platform/batch-store.ts';
import { JobStore } from '../../shared/platform/job-store.ts';
import { S3ObjectStore } from '../../shared/platform/s3-object-store.ts';
import { SqsJobQueue } from '../../shared/platform/sqs-job-queue.ts';
import { createTestBucket, createTestQueue, emulatorClients, notifyQueueOnUpload } from '../../shared/platform/testing/aws-emulator.ts';
import { ApiKeyRing } from '../api/api-keys.ts';
import { createApp } from '../api/app.ts';
import { OTHER_KEY, TEST_KEY, uploadForm } from '../../shared/testing/api-client.ts';
import { workerScenarios } from './worker.scenarios.ts';

describe('worker on S3 + SQS (emulator)', () => {
  const clients = emulatorClients();
  workerScenarios(async ({ maxReceiveCount }) => {
    const bucket = await createTestBucket(clients);
    const created = await createTestQueue(clients, { maxReceiveCount });
    await notifyQueueOnUpload(clients, bucket, created.queueArn, created.queueUrl, 'uploads/tiny/');
    const objects = new S3ObjectStore(clients.s3, bucket);
    const jobs = new JobStore(objects);
    const queue = new SqsJobQueue(clients.sqs, created.queueUrl);
    const app = createApp({
      objects,
      jobs,
      batches: new BatchStore(objects),
      queueFor: () => queue,
      models: modelRegistry,
      apiKeys: ApiKeyRing.fromKeys([TEST_KEY, OTHER_KEY]),
      upload: { maxBytes: 1024, expiresInSeconds: 60 },
      downloadExpiresInSeconds: 60,
      logger: silentLogger(),
    });
    return {
      app,
      objects,
      jobs,
      queue,
      deadLetter: new SqsJobQueue(clients.sqs, created.dlqUrl!),
      upload: (upload, bytes) => fetch(upload.url, { method: 'POST', body: uploadForm(upload.fields, bytes) }),
      download: async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer()),
    };
  }, 3);
});
