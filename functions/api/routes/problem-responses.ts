/** The documented error responses, shared by every route's OpenAPI description; each problem's `type` page (GET /problems) says more. */
import { Problem, PROBLEM_CONTENT_TYPE } from '../../../shared/contracts/problem.ts';

const problem = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } } });

export const problemResponses = {
  400: problem('malformed request (e.g. body is not JSON)'),
  401: problem('missing or unknown API key'),
  404: problem('no such resource for this API key'),
  409: problem('conflicts with the current state, e.g. a reused Idempotency-Key or a finished job'),
  413: problem('body too large'),
  415: problem('the body is not JSON (send content-type: application/json)'),
  422: problem('the request is well-formed but invalid; issues name each field'),
  429: problem('too many requests: the deployed API throttles each client; retry after a pause'),
  500: problem('the request failed inside the service; retry, and report it if it persists'),
} as const;
