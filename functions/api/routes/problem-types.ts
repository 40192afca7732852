/** GET /problems and /problems/{slug}: the page each problem's `type` URI names (RFC 9457), public like the problems themselves. */
import type { Hono } from 'hono';
import type { ApiEnv } from '../api-deps.ts';
import { ApiProblem } from '../api-problem.ts';
import { PROBLEM_TYPE_PATH, PROBLEM_TYPES, type ProblemSlug } from '../problem-types.ts';

const escape = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body>${body}</body></html>\n`;
}

const isSlug = (slug: string): slug is ProblemSlug => Object.hasOwn(PROBLEM_TYPES, slug);

export function registerProblemTypeRoutes(app: Hono<ApiEnv>): void {
  app.get(PROBLEM_TYPE_PATH, (c) => {
    const items = Object.entries(PROBLEM_TYPES).map(([slug, t]) => `<li><a href="${PROBLEM_TYPE_PATH}/${slug}">${escape(t.title)}</a>: ${escape(t.description)}</li>`);
    return c.html(page('PreciseInv problem types', `<h1>Problem types</h1><ul>${items.join('')}</ul>`));
  });
  app.get(`${PROBLEM_TYPE_PATH}/:slug`, (c) => {
    const slug = c.req.param('slug');
    if (!isSlug(slug)) throw new ApiProblem(404, 'not-found', `no problem type '${slug}'; ${PROBLEM_TYPE_PATH} lists them`);
    const t = PROBLEM_TYPES[slug];
    return c.html(page(t.title, `<h1>${escape(t.title)}</h1><p>${escape(t.description)}</p><p><a href="${PROBLEM_TYPE_PATH}">All problem types</a></p>`));
  });
}
