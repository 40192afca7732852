import { describe, expect, it } from 'vitest';
import { failureMessage } from './failure-message.ts';

describe('failureMessage', () => {
  it('gives a problem+json answer its title, status, detail and each issue with its path', async () => {
    const body = { type: 'https://preciseinv.dev/problems/invalid-request', title: 'Invalid request', status: 422, detail: 'see issues', issues: [{ path: 'body.steps', message: 'Too big: expected number to be <=1000' }] };
    const response = new Response(JSON.stringify(body), { status: 422, headers: { 'content-type': 'application/problem+json' } });
    expect(await failureMessage(response)).toBe('Invalid request (422): see issues\nbody.steps: Too big: expected number to be <=1000');
  });

  it("reads S3's XML error from a refused presigned POST", async () => {
    const xml = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message></Error>';
    const response = new Response(xml, { status: 400, headers: { 'content-type': 'application/xml' } });
    expect(await failureMessage(response)).toBe('EntityTooLarge (400): Your proposed upload exceeds the maximum allowed size');
  });

  it('falls back to the status line for anything else, including a malformed problem', async () => {
    expect(await failureMessage(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway', headers: { 'content-type': 'text/html' } }))).toBe('HTTP 502 Bad Gateway');
    expect(await failureMessage(new Response('{"oops": 1}', { status: 500, headers: { 'content-type': 'application/problem+json' } }))).toBe('HTTP 500');
    expect(await failureMessage(new Response('{"truncated', { status: 500, headers: { 'content-type': 'application/problem+json' } }))).toBe('HTTP 500');
  });
});
