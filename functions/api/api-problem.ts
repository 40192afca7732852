/**
 * API errors as RFC 9457 problem details. Handlers throw ApiProblem; the app's error handler
 * renders it, so every failure path answers in one shape.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import type { Logger } from '../../shared/platform/logger.ts';
import { InvalidObjectKeyError } from '../../shared/platform/object-store.ts';
import { PROBLEM_CONTENT_TYPE, type Problem, type ProblemIssue } from '../../shared/contracts/problem.ts';
import { PROBLEM_TYPE_PATH, PROBLEM_TYPES, type ProblemSlug } from './problem-types.ts';

export class ApiProblem extends Error {
  override name = 'ApiProblem';
  constructor(
    readonly status: number,
    /** Stable slug; its page (problem-types.ts) is the problem type URI. */
    readonly slug: ProblemSlug,
    detail: string,
    readonly issues?: ProblemIssue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

/** Zod issue paths prefixed with where the input came from: body, query, param or header. */
export function issuesFromZod(error: z.ZodError, target: string): ProblemIssue[] {
  return error.issues.map((issue) => ({
    path: [target, ...issue.path.map(String)].join('.'),
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
    code: issue.code,
  }));
}

export function problemResponse(c: Context, problem: ApiProblem): Response {
  const body: Problem = {
    type: new URL(`${PROBLEM_TYPE_PATH}/${problem.slug}`, c.req.url).href,
    title: PROBLEM_TYPES[problem.slug].title,
    status: problem.status,
    detail: problem.message,
    instance: c.req.path,
    ...(problem.issues?.length ? { issues: problem.issues } : {}),
  };
  return new Response(JSON.stringify(body), { status: problem.status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...problem.headers } });
}

/** Maps anything thrown in a handler to a problem; unknown errors are logged and answered 500 without internals. */
export function toApiProblem(error: unknown, log: Logger): ApiProblem {
  if (error instanceof ApiProblem) return error;
  if (error instanceof InvalidObjectKeyError) return new ApiProblem(400, 'invalid-object-key', error.message);
  if (error instanceof HTTPException) {
    // The validators' own texts ('Malformed JSON in request body', 'Unsupported Media Type') say
    // what failed but not what to send instead; JSON routes are the only ones that raise these.
    if (error.status === 400 && /json/i.test(error.message)) {
      return new ApiProblem(400, 'malformed-request', `the request body is not valid JSON (${error.message}); send one JSON object`);
    }
    if (error.status === 415) {
      return new ApiProblem(415, 'unsupported-media-type', 'this route takes a JSON body: send it with the header content-type: application/json');
    }
    const slug: ProblemSlug = error.status === 413 ? 'body-too-large' : error.status === 400 ? 'malformed-request' : 'http-error';
    return new ApiProblem(error.status, slug, error.message || PROBLEM_TYPES[slug].title);
  }
  log.error('unhandled API error', { error });
  return new ApiProblem(500, 'internal', 'the request failed inside the service; retry, and report it if it persists');
}

export const notFound = (what: string, id: string): ApiProblem => new ApiProblem(404, 'not-found', `no ${what} '${id}' for this API key`);
