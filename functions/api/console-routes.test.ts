import { describe, expect, it } from 'vitest';
import { buildConsole } from '../../console/build-console.ts';
import { localApi } from './testing/local-api.ts';

describe('the web console routes', () => {
  it('serves the page, its script and stylesheet without a key, each under a strict Content-Security-Policy', async () => {
    const { app } = await localApi({ console: await buildConsole() });
    const page = await app.request('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp.split('; ')).toEqual(expect.arrayContaining(["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self' http://127.0.0.1:8080", "frame-ancestors 'none'"]));
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    // Every script is a file of this origin: no inline code, no event-handler attributes.
    expect([...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => [m[0].includes('src="console.js"'), m[1]])).toEqual([[true, '']]);
    expect(html).not.toMatch(/\son[a-z]+=|style=/i);
    for (const [path, type] of [['/console.js', 'text/javascript; charset=utf-8'], ['/console.css', 'text/css; charset=utf-8']]) {
      const response = await app.request(path!);
      expect([response.status, response.headers.get('content-type'), response.headers.get('content-security-policy')]).toEqual([200, type, csp]);
    }
  });

  it('leaves other paths to the API: unknown ones answer 404 problem+json, /v1 still needs a key', async () => {
    const { app } = await localApi({ console: await buildConsole() });
    const missing = await app.request('/console.map');
    expect([missing.status, missing.headers.get('content-type')]).toEqual([404, 'application/problem+json']);
    expect((await app.request('/v1/models')).status).toBe(401);
  });
});
