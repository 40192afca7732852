/**
 * The S3+SQS emulator (moto_server) the test run's global setup started, or the one
 * PRECISEINV_TEST_AWS_ENDPOINT names: every AWS adapter test runs against it, none is skipped.
 */
import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { createAwsClients, type AwsClients } from '../aws-clients.ts';
import './aws-emulator-context.ts';

/** The emulator's URL; the global setup fails the run before any test when it has none. */
export function awsEmulatorEndpoint(): string {
  const endpoint = inject('awsEmulatorEndpoint');
  if (!endpoint) throw new Error('no AWS emulator endpoint: run the tests through vitest.config.ts, whose global setup starts moto_server');
  return endpoint;
}

export function emulatorClients(): AwsClients {
  return createAwsClients({ endpoint: awsEmulatorEndpoint(), region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

/** A fresh bucket per test, so tests sharing one emulator never see each other's objects. */
export async function createTestBucket(clients: AwsClients): Promise<string> {
  const bucket = `preciseinv-test-${randomUUID()}`;
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** A fresh queue, optionally with a dead-letter queue after maxReceiveCount receives. */
export async function createTestQueue(clients: AwsClients, options: { maxReceiveCount?: number } = {}): Promise<{ queueUrl: string; queueArn: string; dlqUrl?: string }> {
  const name = `preciseinv-test-${randomUUID()}`;
  let dlqUrl: string | undefined;
  const attributes: Record<string, string> = {};
  if (options.maxReceiveCount !== undefined) {
    dlqUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
    const dlqArn = await queueArn(clients, dlqUrl);
    attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount });
  }
  const queueUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
  return { queueUrl, queueArn: await queueArn(clients, queueUrl), ...(dlqUrl ? { dlqUrl } : {}) };
}

async function queueArn(clients: AwsClients, queueUrl: string): Promise<string> {
  const out = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return out.Attributes!.QueueArn!;
}

/**
 * S3 ObjectCreated notifications for keys under prefix go to the queue, as the CDK app configures
 * them. Configuring them queues an s3:TestEvent, which is consumed here so tests start from an empty queue.
 */
export async function notifyQueueOnUpload(clients: AwsClients, bucket: string, queueArnValue: string, queueUrl: string, prefix: string): Promise<void> {
  await clients.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: [{ QueueArn: queueArnValue, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: prefix }] } } }],
      },
    }),
  );
  const out = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  for (const message of out.Messages ?? []) {
    if (!message.Body?.includes('s3:TestEvent')) throw new Error(`expected only the S3 test event on a new queue, got ${message.Body}`);
    await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
  }
}
