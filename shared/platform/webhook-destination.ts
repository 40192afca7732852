/**
 * Where a webhook may go: public addresses only. The host is resolved once and every address
 * checked, so a name pointing at the instance metadata service, a VPC peer or the worker itself is
 * refused; the caller then connects to the address that was checked (no second lookup to rebind).
 * Loopback is allowed only with PRECISEINV_WEBHOOK_ALLOW_LOOPBACK=1 (local development, tests).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { envFlag, parseEnvironment } from './environment.ts';

export const WEBHOOK_ALLOW_LOOPBACK_ENV = 'PRECISEINV_WEBHOOK_ALLOW_LOOPBACK';

export interface WebhookDestinationPolicy {
  allowLoopback: boolean;
  /** All addresses of a host name (default: the system resolver). */
  resolve?: (host: string) => Promise<string[]>;
}

const WebhookEnvironment = z.object({ [WEBHOOK_ALLOW_LOOPBACK_ENV]: envFlag(z) });

export function webhookPolicyFromEnv(env: Record<string, string | undefined>): WebhookDestinationPolicy {
  return { allowLoopback: parseEnvironment(WebhookEnvironment, env, 'webhook')[WEBHOOK_ALLOW_LOOPBACK_ENV] };
}

/** A destination that will never be allowed: not worth retrying. */
export class WebhookDestinationError extends Error {
  override name = 'WebhookDestinationError';
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

const internal = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", including the unspecified address
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['169.254.0.0', 16], // link-local, including 169.254.169.254 (instance metadata)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved and broadcast
] as const) {
  internal.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 96], // unspecified and IPv4-compatible (::a.b.c.d, deprecated: reaches the IPv4 address it embeds)
  ['::ffff:0:0:0', 96], // IPv4-translated
  ['64:ff9b::', 96], // NAT64: reaches whatever IPv4 address it embeds
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments, including Teredo (2001::/32), which embeds IPv4
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds IPv4
  ['fc00::', 7], // unique local, including fd00:ec2::254 (instance metadata over IPv6)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, still routed inside some networks)
  ['ff00::', 8], // multicast
] as const) {
  internal.addSubnet(net, prefix, 'ipv6');
}

/** An IPv6 address in its canonical compressed form (so ::ffff:7f00:1 and 0:0:0:0:0:ffff:127.0.0.1 compare alike). */
function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d in any spelling), if it is one. */
function mappedIpv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(canonicalIpv6(address));
  if (!hex) return undefined;
  const [hi, lo] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** Why an address may not receive webhooks, or undefined if it may. */
export function refusedAddress(address: string, allowLoopback: boolean): string | undefined {
  const v4 = mappedIpv4(address);
  if (v4) return refusedAddress(v4, allowLoopback);
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (loopback.check(address, type)) return allowLoopback ? undefined : `a loopback address (set ${WEBHOOK_ALLOW_LOOPBACK_ENV}=1 to allow it for local development)`;
  if (internal.check(address, type)) return 'a private, link-local or otherwise non-public address';
  return undefined;
}

const systemResolve = async (host: string): Promise<string[]> => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** A webhook URL with the one address it may be sent to. */
export interface CheckedDestination {
  url: URL;
  /** The host name as written (for the Host header and TLS server name). */
  host: string;
  address: string;
  family: 4 | 6;
}

/**
 * Resolves the URL's host once and throws WebhookDestinationError unless every address is
 * allowed; returns the first, which is the one to connect to.
 */
export async function checkWebhookDestination(url: string, policy: WebhookDestinationPolicy): Promise<CheckedDestination> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new WebhookDestinationError(`webhook URL scheme '${parsed.protocol}' is not http or https`);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses = isIP(host) ? [host] : await (policy.resolve ?? systemResolve)(host);
  if (addresses.length === 0) throw new Error(`webhook host '${host}' has no addresses`);
  for (const address of addresses) {
    const reason = refusedAddress(address, policy.allowLoopback);
    if (reason) throw new WebhookDestinationError(`webhook host '${host}' resolves to ${address}, ${reason}; refused`);
  }
  const address = addresses[0]!;
  return { url: parsed, host, address, family: isIP(address) === 6 ? 6 : 4 };
}
