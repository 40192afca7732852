/**
 * JobQueue in memory, with SQS semantics: a received message stays invisible for its visibility
 * timeout, every receive issues a new receipt handle, and a message received maxReceiveCount
 * times moves to the dead-letter queue on its next receive.
 */
import { randomUUID } from 'node:crypto';
import type { JobQueue, ReceiveOptions, ReceivedMessage } from './job-queue.ts';

interface Entry {
  id: string;
  body: string;
  receiveCount: number;
  visibleAt: number;
  receiptHandle: string | undefined;
}

export interface InProcessJobQueueOptions {
  deadLetter?: { queue: InProcessJobQueue; maxReceiveCount: number };
  now?: () => number;
}

export class InProcessJobQueue implements JobQueue {
  private readonly entries: Entry[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly now: () => number;

  constructor(private readonly options: InProcessJobQueueOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Messages currently stored, visible or not (for tests and the dead-letter view). */
  get depth(): number {
    return this.entries.length;
  }

  /** Message bodies currently stored, oldest first. */
  bodies(): string[] {
    return this.entries.map((e) => e.body);
  }

  async send(body: string): Promise<void> {
    this.entries.push({ id: randomUUID(), body, receiveCount: 0, visibleAt: 0, receiptHandle: undefined });
    this.wake();
  }

  async sendMany(bodies: readonly string[]): Promise<void> {
    for (const body of bodies) await this.send(body);
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const deadline = this.now() + options.waitSeconds * 1000;
    for (;;) {
      const received = this.take(options);
      if (received.length > 0 || this.now() >= deadline || options.signal?.aborted) return received;
      await this.waitForChange(deadline, options.signal);
    }
  }

  async delete(receiptHandle: string): Promise<void> {
    const index = this.entries.findIndex((e) => e.receiptHandle === receiptHandle);
    if (index >= 0) this.entries.splice(index, 1);
  }

  async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    const entry = this.entries.find((e) => e.receiptHandle === receiptHandle);
    if (!entry) throw new Error('receipt handle is not current: the message was deleted or received again');
    entry.visibleAt = this.now() + seconds * 1000;
    this.wake();
  }

  async maxReceiveCount(): Promise<number | undefined> {
    return this.options.deadLetter?.maxReceiveCount;
  }

  private take(options: ReceiveOptions): ReceivedMessage[] {
    const now = this.now();
    const out: ReceivedMessage[] = [];
    for (const entry of [...this.entries]) {
      if (out.length >= options.maxMessages) break;
      if (entry.visibleAt > now) continue;
      const dlq = this.options.deadLetter;
      if (dlq && entry.receiveCount >= dlq.maxReceiveCount) {
        this.entries.splice(this.entries.indexOf(entry), 1);
        void dlq.queue.send(entry.body);
        continue;
      }
      entry.receiveCount += 1;
      entry.receiptHandle = randomUUID();
      entry.visibleAt = now + options.visibilityTimeoutSeconds * 1000;
      out.push({ id: entry.id, receiptHandle: entry.receiptHandle, body: entry.body, receiveCount: entry.receiveCount });
    }
    return out;
  }

  private waitForChange(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const nextVisible = Math.min(deadline, ...this.entries.map((e) => e.visibleAt).filter((t) => t > this.now()));
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, nextVisible - this.now()));
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
