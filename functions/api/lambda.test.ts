import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeConsole } from '../../console/build-console.ts';
import { awsApiDeps } from './api-config.ts';
import { hashApiKey } from './api-keys.ts';

const env = {
  PRECISEINV_BUCKET: 'preciseinv-bucket',
  PRECISEINV_QUEUE_URLS: JSON.stringify({ tiny: 'https://sqs.us-east-1.amazonaws.com/123456789012/tiny' }),
  PRECISEINV_API_KEY_HASHES: hashApiKey('pk_lambda'),
  AWS_REGION: 'us-east-1',
  // Signing is local; the console's policy presigns a probe URL to learn the bucket's origin.
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret-for-local-signing-only',
};

describe('the Lambda entry', () => {
  it('names each missing or malformed variable', () => {
    expect(() => awsApiDeps({ ...env, PRECISEINV_QUEUE_URLS: 'not json', PRECISEINV_API_KEY_HASHES: 'short' })).toThrow(/PRECISEINV_QUEUE_URLS: expected JSON.*PRECISEINV_API_KEY_HASHES/);
    expect(() => awsApiDeps({})).toThrow(/PRECISEINV_BUCKET/);
  });

  const event = (path: string, headers: Record<string, string> = {}) => ({
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { host: 'api.example.com', ...headers },
    requestContext: { http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, domainName: 'api.example.com', stage: '$default', requestId: 'r', routeKey: '$default', accountId: '1', apiId: 'a', domainPrefix: 'api', time: '', timeEpoch: 0 },
    isBase64Encoded: false,
  });
  type LambdaResponse = { statusCode: number; body: string; headers: Record<string, string> };

  async function lambdaHandler() {
    const consoleDir = await mkdtemp(join(tmpdir(), 'preciseinv-console-'));
    await writeConsole(consoleDir);
    Object.assign(process.env, env, { PRECISEINV_CONSOLE_DIR: consoleDir });
    return (await import('./lambda.ts')).handler;
  }

  it('answers an HTTP API event from the environment configuration', async () => {
    const handler = await lambdaHandler();
    const response = (await handler(event('/v1/models', { authorization: 'Bearer pk_lambda' }) as never, {} as never)) as LambdaResponse;
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).models.map((m: { id: string }) => m.id)).toEqual(['tiny']);
  });

  it('serves the web console from its bundle folder, letting the page reach only the bucket besides itself', async () => {
    const handler = await lambdaHandler();
    const page = (await handler(event('/') as never, {} as never)) as LambdaResponse;
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<script type="module" src="console.js"></script>');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self' https://preciseinv-bucket.s3.us-east-1.amazonaws.com;");
    const script = (await handler(event('/console.js') as never, {} as never)) as LambdaResponse;
    expect([script.statusCode, script.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
  });

  it('refuses to start without the console files, naming the folder', async () => {
    const { readConsoleAssets } = await import('./console-assets.ts');
    await expect(readConsoleAssets('/nonexistent/console')).rejects.toThrow(/no web console in '\/nonexistent\/console'/);
  });
});
