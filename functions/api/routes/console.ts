/**
 * The web console's static files under `/`, each with a Content-Security-Policy that allows only
 * this origin's script and styles and, for uploads and downloads, the object store's origin.
 */
import type { Hono } from 'hono';
import type { ApiDeps, ApiEnv } from '../api-deps.ts';
import type { ConsoleAssets } from '../console-assets.ts';

/** The origins presigned upload and download URLs point at (the bucket on AWS, the API itself locally), read off a signed probe. */
async function storageOrigins(deps: ApiDeps): Promise<string[]> {
  const post = await deps.objects.presignPost({ key: 'uploads/console-origin-probe', minBytes: 1, maxBytes: 1, contentType: 'image/png', contentTypePrefix: 'image/', expiresInSeconds: 60 });
  const get = await deps.objects.presignGet('results/console-origin-probe', 60);
  return [...new Set([new URL(post.url).origin, new URL(get).origin])];
}

export function contentSecurityPolicy(origins: readonly string[]): string {
  const storage = origins.join(' ');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' blob: ${storage}`,
    `connect-src 'self' ${storage}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function registerConsoleRoutes(app: Hono<ApiEnv>, deps: ApiDeps, assets: ConsoleAssets): void {
  let policy: Promise<string> | undefined;
  for (const [path, asset] of assets) {
    app.get(path, async (c) => {
      // Presigning needs no network, but does need credentials: a failure is retried on the next request.
      policy ??= storageOrigins(deps).then(contentSecurityPolicy, (error: unknown) => {
        policy = undefined;
        throw error;
      });
      return c.body(asset.body.slice().buffer, 200, {
        'content-type': asset.contentType,
        'content-security-policy': await policy,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        // The files change with each deploy and are small; revalidating keeps page and script in step.
        'cache-control': 'no-cache',
      });
    });
  }
}
