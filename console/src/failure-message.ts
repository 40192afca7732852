/**
 * What a failed response says, in words a person can act on: RFC 9457 problem+json from the API
 * (detail plus each issue's path), S3's XML error from a presigned POST, else the status line.
 */
import { PROBLEM_CONTENT_TYPE, Problem } from '../../shared/contracts/problem.ts';

export function problemText(problem: Problem): string {
  const issues = (problem.issues ?? []).map((issue) => `${issue.path}: ${issue.message}`);
  return [`${problem.title} (${problem.status})${problem.detail ? `: ${problem.detail}` : ''}`, ...issues].join('\n');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const xmlText = (xml: string, tag: string): string | undefined => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];

export async function failureMessage(response: Response): Promise<string> {
  const type = response.headers.get('content-type') ?? '';
  const body = await response.text().catch(() => '');
  if (type.startsWith(PROBLEM_CONTENT_TYPE)) {
    const problem = Problem.safeParse(parseJson(body));
    if (problem.success) return problemText(problem.data);
  }
  const s3Message = /xml/.test(type) ? xmlText(body, 'Message') : undefined;
  if (s3Message) return `${xmlText(body, 'Code') ?? 'Error'} (${response.status}): ${s3Message}`;
  return `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
}
