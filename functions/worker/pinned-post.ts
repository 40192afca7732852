/**
 * One HTTP(S) POST to an address checked beforehand: the connection goes to that address while
 * the Host header and TLS server name (and so the certificate check) stay the URL's host, so a
 * DNS answer that changes after the check cannot redirect the request. Redirects are not followed.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedDestination } from '../../shared/platform/webhook-destination.ts';

export interface PinnedPost {
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** Resolves with the response status; rejects on a network error or the timeout. */
export function postToCheckedAddress(destination: CheckedDestination, post: PinnedPost): Promise<number> {
  const { url, address, family } = destination;
  const pinned: LookupFunction = (_host, options, callback) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const req = send(
      url,
      { method: 'POST', headers: { ...post.headers, 'content-length': String(Buffer.byteLength(post.body)) }, lookup: pinned, timeout: post.timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${post.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(post.body);
  });
}
