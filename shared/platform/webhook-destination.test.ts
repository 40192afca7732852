import { describe, expect, it } from 'vitest';
import { checkWebhookDestination, refusedAddress, webhookPolicyFromEnv, WebhookDestinationError } from './webhook-destination.ts';

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
    await expect(checkWebhookDestination('https://hooks.example.com/x', policy)).resolves.toMatchObject({});
    await expect(checkWebhookDestination('https://sneaky.example.com/x', policy)).rejects.toThrow(/sneaky.example.com' resolves to 10.0.0.7, a private/);
    await expect(checkWebhookDestination('http://localhost:8080/x', policy)).rejects.toThrow(WebhookDestinationError);
    await expect(checkWebhookDestination('http://169.254.169.254/latest/meta-data', policy)).rejects.toThrow(/169.254.169.254/);
    await expect(checkWebhookDestination('http://[::1]:9/x', policy)).rejects.toThrow(/loopback/);
    await expect(checkWebhookDestination('http://[::1]:9/x', { ...policy, allowLoopback: true })).resolves.toMatchObject({});
    expect(webhookPolicyFromEnv({ PRECISEINV_WEBHOOK_ALLOW_LOOPBACK: '1' }).allowLoopback).toBe(true);
    expect(webhookPolicyFromEnv({}).allowLoopback).toBe(false);
  });

  // One address per range; each would reach something inside the network, or an IPv4 address it embeds.
  it.each([
    ['::/96 IPv4-compatible loopback', '::127.0.0.1'],
    ['::/96 IPv4-compatible, hex', '::7f00:1'],
    ['::/96 IPv4-compatible private', '::10.0.0.1'],
    ['::ffff:0:0/96 mapped private, expanded spelling', '0:0:0:0:0:ffff:a00:1'],
    ['::ffff:0:0/96 mapped metadata, dotted', '::ffff:169.254.169.254'],
    ['::ffff:0:0:0/96 IPv4-translated', '::ffff:0:a00:1'],
    ['fec0::/10 site-local', 'fec0::1'],
    ['fc00::/7 unique local', 'fd12:3456::1'],
    ['fe80::/10 link-local', 'fe80::abcd'],
    ['ff00::/8 multicast', 'ff02::1'],
    ['64:ff9b::/96 NAT64', '64:ff9b::7f00:1'],
    ['64:ff9b:1::/48 local NAT64', '64:ff9b:1::a00:1'],
    ['100::/64 discard', '100::1'],
    ['2001::/32 Teredo', '2001:0:4136:e378::1'],
    ['2001:db8::/32 documentation', '2001:db8::1'],
    ['2002::/16 6to4', '2002:7f00:1::1'],
    ['192.0.2.0/24 documentation', '192.0.2.10'],
    ['198.51.100.0/24 documentation', '198.51.100.7'],
    ['203.0.113.0/24 documentation', '203.0.113.9'],
    ['192.88.99.0/24 6to4 relay', '192.88.99.1'],
  ])('refuses %s (%s), even with loopback allowed', (_range, address) => {
    expect(refusedAddress(address, true)).toBeDefined();
  });

  it('refuses IPv6 literals of those ranges in webhook URLs', async () => {
    const policy = { allowLoopback: false };
    for (const host of ['[::127.0.0.1]', '[fec0::1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:a9fe:a9fe]']) {
      await expect(checkWebhookDestination(`http://${host}:8080/hook`, policy), host).rejects.toThrow(WebhookDestinationError);
    }
  });

  it('returns the address it checked, to connect to', async () => {
    const checked = await checkWebhookDestination('https://hooks.example.com/x', { allowLoopback: false, resolve: resolver({ 'hooks.example.com': ['93.184.215.14', '2606:2800:220:1::1'] }) });
    expect(checked).toMatchObject({ host: 'hooks.example.com', address: '93.184.215.14', family: 4 });
  });
});
