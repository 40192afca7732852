import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/contracts/job.ts';
import { webhookPolicyFromEnv } from '../../shared/platform/webhook-destination.ts';
import { SIGNATURE_HEADER, signWebhook, WebhookSender } from './webhook-sender.ts';
import { silentLogger } from '../../shared/platform/logger.ts';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

/** A receiver answering with the given statuses in turn, recording what it got. */
async function receiver(statuses: number[]): Promise<{ url: string; received: { body: string; signature: string }[] }> {
  const received: { body: string; signature: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ body, signature: String(req.headers[SIGNATURE_HEADER]) });
      res.writeHead(statuses[received.length - 1] ?? 200).end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

const job = (webhook: string): Job => ({
  id: 'j-webhook1',
  owner: 'o',
  model: 'tiny',
  batchId: null,
  params: { method: 'preciseinv', steps: 2, eta: 0.01, maxIters: 5, guidance: 1, prompt: '', outputs: ['latent'] },
  input: { key: 'uploads/tiny/j-webhook1/input', contentType: 'image/png' },
  webhook,
  status: 'succeeded',
  progress: { step: 2, totalSteps: 2 },
  attempts: 1,
  error: null,
  timings: { createdAt: new Date().toISOString(), queuedAt: null, startedAt: null, finishedAt: null },
  outputs: { latent: 'results/j-webhook1/latent.safetensors' },
  metrics: null,
  lease: null,
  requestHash: 'h',
});

const sender = (attempts = 3) =>
  new WebhookSender({ secret: 'hook-secret', attempts, baseDelayMs: 10, timeoutMs: 2000, destination: { allowLoopback: true } }, silentLogger());

describe('WebhookSender', () => {
  it('signs the body with HMAC over timestamp and body, and retries a 5xx', async () => {
    const hook = await receiver([503, 200]);
    expect(await sender().deliver(job(hook.url))).toBe(true);
    expect(hook.received).toHaveLength(2);
    const { body, signature } = hook.received[1]!;
    const t = Number(/t=(\d+)/.exec(signature)![1]);
    expect(signature).toBe(signWebhook('hook-secret', t, body));
    expect(JSON.parse(body)).toMatchObject({ type: 'job.succeeded', job: { id: 'j-webhook1', outputs: { latent: 'results/j-webhook1/latent.safetensors' } } });
  });

  it('does not retry a 4xx and gives up after the last attempt', async () => {
    const refused = await receiver([400]);
    expect(await sender().deliver(job(refused.url))).toBe(false);
    expect(refused.received).toHaveLength(1);
    const down = await receiver([500, 500, 500]);
    expect(await sender(3).deliver(job(down.url))).toBe(false);
    expect(down.received).toHaveLength(3);
  });

  it('the sender never calls a refused destination and does not retry it; the flag lets loopback through', async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      res.writeHead(200).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const job = { id: 'j-dest', webhook: url, status: 'succeeded' } as Job;
    const make = (env: Record<string, string>) => new WebhookSender({ secret: 's', attempts: 3, baseDelayMs: 1, timeoutMs: 2000, destination: webhookPolicyFromEnv(env) }, silentLogger());
    try {
      expect(await make({}).deliver(job)).toBe(false);
      expect(calls).toBe(0);
      expect(await make({ PRECISEINV_WEBHOOK_ALLOW_LOOPBACK: '1' }).deliver(job)).toBe(true);
      expect(calls).toBe(1);
    } finally {
      server.close();
    }
  });

  it('connects to the address it checked, never looking the name up again', async () => {
    const hook = await receiver([200]);
    const port = new URL(hook.url).port;
    const lookups: string[] = [];
    // 'hooks.invalid' resolves nowhere else: the delivery can only reach the receiver through the checked address.
    const resolve = async (host: string) => (lookups.push(host), ['127.0.0.1']);
    const pinned = new WebhookSender({ secret: 's', attempts: 1, baseDelayMs: 1, timeoutMs: 2000, destination: { allowLoopback: true, resolve } }, silentLogger());
    expect(await pinned.deliver(job(`http://hooks.invalid:${port}/hook`))).toBe(true);
    expect(lookups).toEqual(['hooks.invalid']);
    expect(hook.received).toHaveLength(1);
  });
});
