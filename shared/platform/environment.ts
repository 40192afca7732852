/**
 * Environment variables parsed once, at start, by a zod schema: a bad value stops the process
 * with the variable named and what it should hold, instead of surfacing later as an unrelated
 * failure. Values are not echoed, since some are secrets.
 */
import type { z } from 'zod';

export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

export function parseEnvironment<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>, what: string): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  throw new EnvironmentError(`${what} configuration: ${problems.join('; ')}`);
}

/** A yes/no switch: 1/true or 0/false; anything else is an error rather than a silent "no". */
export const envFlag = (zod: typeof z) =>
  zod
    .enum(['1', 'true', '0', 'false'], { message: "expected 1 or true to enable it, 0 or false (or unset) to leave it off" })
    .optional()
    .transform((v) => v === '1' || v === 'true');
