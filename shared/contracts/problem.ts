/** RFC 9457 problem details: every API error, one shape, with the failing input paths when there are any. */
import { z } from 'zod';

export const ProblemIssue = z
  .object({
    path: z.string().describe("where the input is wrong, e.g. 'body.steps' or 'header.authorization'"),
    message: z.string(),
    code: z.string().optional(),
  })
  .meta({ id: 'ProblemIssue' });
export type ProblemIssue = z.infer<typeof ProblemIssue>;

export const Problem = z
  .object({
    type: z.string().describe('URI naming the problem type'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    issues: z.array(ProblemIssue).optional(),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof Problem>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
