/**
 * The job queue port: one queue per model, at-least-once delivery with visibility timeouts and
 * a dead-letter queue after a maximum number of receives (SQS semantics). Adapters: SqsJobQueue
 * and InProcessJobQueue.
 */

export interface ReceivedMessage {
  id: string;
  /** Changes on every receive; only the latest one deletes or extends the message. */
  receiptHandle: string;
  body: string;
  /** 1 on first delivery (SQS ApproximateReceiveCount). */
  receiveCount: number;
}

export interface ReceiveOptions {
  maxMessages: number;
  /** Long poll: wait up to this long for a first message. */
  waitSeconds: number;
  visibilityTimeoutSeconds: number;
  signal?: AbortSignal;
}

export interface JobQueue {
  send(body: string): Promise<void>;
  /** Sends many bodies in as few calls as the backend allows. */
  sendMany(bodies: readonly string[]): Promise<void>;
  receive(options: ReceiveOptions): Promise<ReceivedMessage[]>;
  delete(receiptHandle: string): Promise<void>;
  /** 0 makes the message visible again at once. */
  changeVisibility(receiptHandle: string, seconds: number): Promise<void>;
  /** Receives after which the message moves to the dead-letter queue; undefined without one. */
  maxReceiveCount(): Promise<number | undefined>;
}
