/** The behaviour every JobQueue adapter owes the worker; run by job-queue.contract.test.ts per adapter. */
import { expect, it } from 'vitest';
import type { JobQueue } from './job-queue.ts';

export interface QueueUnderTest {
  queue: JobQueue;
  deadLetter?: JobQueue;
}

const poll = { maxMessages: 10, waitSeconds: 0, visibilityTimeoutSeconds: 30 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function jobQueueContract(makeQueue: (options: { maxReceiveCount?: number }) => Promise<QueueUnderTest>): void {
  it('delivers a sent message once while it is invisible, and deletes it', async () => {
    const { queue } = await makeQueue({});
    await queue.send('hello');
    const [message] = await queue.receive(poll);
    expect(message).toMatchObject({ body: 'hello', receiveCount: 1 });
    expect(await queue.receive(poll)).toEqual([]);
    await queue.delete(message!.receiptHandle);
    await queue.changeVisibility(message!.receiptHandle, 0).catch(() => undefined);
    expect(await queue.receive(poll)).toEqual([]);
  });

  it('redelivers after the visibility timeout with a higher receive count', async () => {
    const { queue } = await makeQueue({});
    await queue.send('again');
    await queue.receive({ ...poll, visibilityTimeoutSeconds: 1 });
    await sleep(1100);
    const [second] = await queue.receive({ ...poll, waitSeconds: 2 });
    expect(second).toMatchObject({ body: 'again', receiveCount: 2 });
  });

  it('releases a message at once with visibility 0', async () => {
    const { queue } = await makeQueue({});
    await queue.send('release');
    const [first] = await queue.receive(poll);
    await queue.changeVisibility(first!.receiptHandle, 0);
    const [second] = await queue.receive(poll);
    expect(second?.body).toBe('release');
    expect(second?.receiptHandle).not.toBe(first?.receiptHandle);
  });

  it('long-polls until a message arrives', async () => {
    const { queue } = await makeQueue({});
    const started = Date.now();
    setTimeout(() => void queue.send('late'), 300);
    const messages = await queue.receive({ ...poll, waitSeconds: 5 });
    expect(messages.map((m) => m.body)).toEqual(['late']);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('sends many in one go', async () => {
    const { queue } = await makeQueue({});
    await queue.sendMany(Array.from({ length: 23 }, (_, i) => `m${i}`));
    const bodies = new Set<string>();
    for (let i = 0; i < 10 && bodies.size < 23; i++) for (const m of await queue.receive(poll)) bodies.add(m.body);
    expect(bodies.size).toBe(23);
  });

  it('moves a message to the dead-letter queue after the maximum receives', async () => {
    const { queue, deadLetter } = await makeQueue({ maxReceiveCount: 2 });
    expect(await queue.maxReceiveCount()).toBe(2);
    await queue.send('poison');
    for (const expected of [1, 2]) {
      const [m] = await queue.receive(poll);
      expect(m?.receiveCount).toBe(expected);
      await queue.changeVisibility(m!.receiptHandle, 0);
    }
    expect(await queue.receive(poll)).toEqual([]);
    const [dead] = await deadLetter!.receive({ ...poll, waitSeconds: 1 });
    expect(dead?.body).toBe('poison');
  });
}
