/** Bearer API key authentication; sets the caller's key id as `owner`. */
import type { MiddlewareHandler } from 'hono';
import type { ApiKeyRing } from '../api-keys.ts';
import { ApiProblem } from '../api-problem.ts';

const challenge = { 'www-authenticate': 'Bearer realm="preciseinv"' };

export function bearerAuth(keys: ApiKeyRing): MiddlewareHandler<{ Variables: { owner: string } }> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new ApiProblem(401, 'unauthorized', "send 'Authorization: Bearer <API key>'", [{ path: 'header.authorization', message: 'missing or not a bearer token' }], challenge);
    const owner = keys.identify(match[1]!);
    if (!owner) throw new ApiProblem(401, 'unauthorized', 'the API key is not valid', [{ path: 'header.authorization', message: 'unknown API key' }], challenge);
    c.set('owner', owner);
    await next();
  };
}
