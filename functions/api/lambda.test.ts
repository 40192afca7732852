import { describe, expect, it } from 'vitest';
import { awsApiDeps } from './api-config.ts';
import { hashApiKey } from './api-keys.ts';

const env = {
  PRECISEINV_BUCKET: 'preciseinv-bucket',
  PRECISEINV_QUEUE_URLS: JSON.stringify({ tiny: 'https://sqs.us-east-1.amazonaws.com/123456789012/tiny' }),
  PRECISEINV_API_KEY_HASHES: hashApiKey('pk_lambda'),
  AWS_REGION: 'us-east-1',
};

describe('the Lambda entry', () => {
  it('names each missing or malformed variable', () => {
    expect(() => awsApiDeps({ ...env, PRECISEINV_QUEUE_URLS: 'not json', PRECISEINV_API_KEY_HASHES: 'short' })).toThrow(/PRECISEINV_QUEUE_URLS: expected JSON.*PRECISEINV_API_KEY_HASHES/);
    expect(() => awsApiDeps({})).toThrow(/PRECISEINV_BUCKET/);
  });

  it('answers an HTTP API event from the environment configuration', async () => {
    Object.assign(process.env, env);
    const { handler } = await import('./lambda.ts');
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: '/v1/models',
      rawQueryString: '',
      headers: { authorization: 'Bearer pk_lambda', host: 'api.example.com' },
      requestContext: { http: { method: 'GET', path: '/v1/models', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, domainName: 'api.example.com', stage: '$default', requestId: 'r', routeKey: '$default', accountId: '1', apiId: 'a', domainPrefix: 'api', time: '', timeEpoch: 0 },
      isBase64Encoded: false,
    };
    const response = (await handler(event as never, {} as never)) as { statusCode: number; body: string };
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).models.map((m: { id: string }) => m.id)).toEqual(['tiny']);
  });
});
