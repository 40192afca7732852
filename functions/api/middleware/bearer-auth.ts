/**
 * API key authentication through hono/bearer-auth: the key ring verifies the token and names
 * its owner. Refusals answer as problem details with RFC 6750 challenges: no header, a header
 * that is not `Bearer <token>` (error="invalid_request", 400) or an unknown key (error="invalid_token").
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import type { ProblemIssue } from '../../../shared/contracts/problem.ts';
import type { ApiEnv } from '../api-deps.ts';
import type { ApiKeyRing } from '../api-keys.ts';
import { ApiProblem, problemResponse } from '../api-problem.ts';
import type { ProblemSlug } from '../problem-types.ts';

const REALM = 'preciseinv';

const refusal = (status: number, slug: ProblemSlug, detail: string, issue: ProblemIssue) => (c: Context) => problemResponse(c, new ApiProblem(status, slug, detail, [issue]));

export function apiKeyAuth(keys: ApiKeyRing): MiddlewareHandler<ApiEnv> {
  return bearerAuth({
    realm: REALM,
    verifyToken: (token, c) => {
      const owner = keys.identify(token);
      if (owner) c.set('owner', owner);
      return owner !== undefined;
    },
    noAuthenticationHeader: {
      message: refusal(401, 'unauthorized', "send 'Authorization: Bearer <API key>'", { path: 'header.authorization', message: 'missing' }),
    },
    invalidAuthenticationHeader: {
      wwwAuthenticateHeader: `Bearer realm="${REALM}", error="invalid_request"`,
      message: refusal(400, 'malformed-authorization', "the Authorization header is not 'Bearer <API key>'", { path: 'header.authorization', message: 'not a bearer token' }),
    },
    invalidToken: {
      wwwAuthenticateHeader: `Bearer realm="${REALM}", error="invalid_token"`,
      message: refusal(401, 'unauthorized', 'the API key is not valid', { path: 'header.authorization', message: 'unknown API key' }),
    },
  });
}
