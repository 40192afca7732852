import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Job } from '../../shared/contracts/job.ts';
import { checkWebhookDestination, refusedAddress, webhookPolicyFromEnv, WebhookDestinationError } from './webhook-destination.ts';
import { WebhookSender } from './webhook-sender.ts';
import { jsonLogger } from './worker-logger.ts';

const resolver = (table: Record<string, string[]>) => async (host: string) => table[host] ?? [];

describe('webhook destinations', () => {
  it('refuses private, loopback, link-local and mapped addresses; allows public ones', () => {
    for (const address of ['10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', 'fd00:ec2::254', 'fe80::1', '::', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '64:ff9b::a00:1']) {
      expect(refusedAddress(address, true), address).toBeDefined();
    }
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      expect(refusedAddress(address, false), address).toMatch(/loopback/);
      expect(refusedAddress(address, true), address).toBeUndefined();
    }
    for (const address of ['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '172.32.0.1', '::ffff:8.8.8.8']) expect(refusedAddress(address, false), address).toBeUndefined();
  });

  it('checks every address a host resolves to, and IP literals as they are', async () => {
    const policy = { allowLoopback: false, resolve: resolver({ 'hooks.example.com': ['93.184.215.14'], 'sneaky.example.com': ['93.184.215.14', '10.0.0.7'], localhost: ['127.0.0.1', '::1'] }) };
    await expect(checkWebhookDestination('https://hooks.example.com/x', policy)).resolves.toBeUndefined();
    await expect(checkWebhookDestination('https://sneaky.example.com/x', policy)).rejects.toThrow(/sneaky.example.com' resolves to 10.0.0.7, a private/);
    await expect(checkWebhookDestination('http://localhost:8080/x', policy)).rejects.toThrow(WebhookDestinationError);
    await expect(checkWebhookDestination('http://169.254.169.254/latest/meta-data', policy)).rejects.toThrow(/169.254.169.254/);
    await expect(checkWebhookDestination('http://[::1]:9/x', policy)).rejects.toThrow(/loopback/);
    await expect(checkWebhookDestination('http://[::1]:9/x', { ...policy, allowLoopback: true })).resolves.toBeUndefined();
    expect(webhookPolicyFromEnv({ PRECISEINV_WEBHOOK_ALLOW_LOOPBACK: '1' }).allowLoopback).toBe(true);
    expect(webhookPolicyFromEnv({}).allowLoopback).toBe(false);
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
    const make = (env: Record<string, string>) => new WebhookSender({ secret: 's', attempts: 3, baseDelayMs: 1, timeoutMs: 2000, destination: webhookPolicyFromEnv(env) }, jsonLogger({}, () => undefined));
    try {
      expect(await make({}).deliver(job)).toBe(false);
      expect(calls).toBe(0);
      expect(await make({ PRECISEINV_WEBHOOK_ALLOW_LOOPBACK: '1' }).deliver(job)).toBe(true);
      expect(calls).toBe(1);
    } finally {
      server.close();
    }
  });
});
