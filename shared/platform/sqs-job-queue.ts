/** JobQueue on Amazon SQS (AWS SDK v3); the redrive policy on the queue sets the receive maximum. */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { JobQueue, ReceiveOptions, ReceivedMessage } from './job-queue.ts';

/** SQS accepts at most ten entries per SendMessageBatch and ten messages per receive. */
const SQS_BATCH_LIMIT = 10;

export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly client: SQSClient,
    readonly queueUrl: string,
  ) {}

  async send(body: string): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: body }));
  }

  async sendMany(bodies: readonly string[]): Promise<void> {
    for (let i = 0; i < bodies.length; i += SQS_BATCH_LIMIT) {
      const entries = bodies.slice(i, i + SQS_BATCH_LIMIT).map((body, j) => ({ Id: String(j), MessageBody: body }));
      const out = await this.client.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
      if (out.Failed?.length) throw new Error(`SQS refused ${out.Failed.length} of ${entries.length} messages: ${out.Failed[0]?.Message ?? out.Failed[0]?.Code}`);
    }
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const out = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: Math.min(options.maxMessages, SQS_BATCH_LIMIT),
        WaitTimeSeconds: options.waitSeconds,
        VisibilityTimeout: options.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
      { abortSignal: options.signal },
    );
    return (out.Messages ?? []).map((m) => ({
      id: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body ?? '',
      receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
    }));
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle }));
  }

  async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
  }

  async maxReceiveCount(): Promise<number | undefined> {
    const out = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ['RedrivePolicy'] }));
    const policy = out.Attributes?.RedrivePolicy;
    return policy ? Number((JSON.parse(policy) as { maxReceiveCount: number | string }).maxReceiveCount) : undefined;
  }
}
