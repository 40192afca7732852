import { describe, expect, it } from 'vitest';
import { InProcessJobQueue } from './in-process-job-queue.ts';
import { jobQueueContract } from './job-queue.contract.ts';
import { SqsJobQueue } from './sqs-job-queue.ts';
import { createTestQueue, emulatorClients } from './testing/aws-emulator.ts';

describe('InProcessJobQueue', () => {
  jobQueueContract(async ({ maxReceiveCount }) => {
    if (maxReceiveCount === undefined) return { queue: new InProcessJobQueue() };
    const deadLetter = new InProcessJobQueue();
    return { queue: new InProcessJobQueue({ deadLetter: { queue: deadLetter, maxReceiveCount } }), deadLetter };
  });

  it('stops a long poll when its signal aborts', async () => {
    const queue = new InProcessJobQueue();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    expect(await queue.receive({ maxMessages: 1, waitSeconds: 10, visibilityTimeoutSeconds: 1, signal: controller.signal })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('SqsJobQueue against the emulator', () => {
  const clients = emulatorClients();
  jobQueueContract(async ({ maxReceiveCount }) => {
    const created = await createTestQueue(clients, maxReceiveCount === undefined ? {} : { maxReceiveCount });
    return {
      queue: new SqsJobQueue(clients.sqs, created.queueUrl),
      ...(created.dlqUrl ? { deadLetter: new SqsJobQueue(clients.sqs, created.dlqUrl) } : {}),
    };
  });
});
