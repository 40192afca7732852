/** The public API as the console uses it: the same routes a script calls, responses checked by the shared schemas. */
import { z } from 'zod';
import { BatchView, type BatchRequest } from '../../shared/contracts/job-batch.ts';
import type { JobRequest } from '../../shared/contracts/job-request.ts';
import { JobSteps } from '../../shared/contracts/job-steps.ts';
import { JobView } from '../../shared/contracts/job-view.ts';
import { InversionDefaults } from '../../shared/contracts/model-manifest.ts';
import { failureMessage } from './failure-message.ts';

export const ConsoleModel = z.object({ id: z.string(), displayName: z.string(), family: z.string(), inversionDefaults: InversionDefaults });
export type ConsoleModel = z.infer<typeof ConsoleModel>;
const ModelList = z.object({ models: z.array(ConsoleModel) });

/** A request the API (or the object store) refused; `message` is its own explanation. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
  /** Worth retrying later: throttled, or the service failed inside. */
  get transient(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

async function parsed<S extends z.ZodType>(response: Response, schema: S, what: string): Promise<z.infer<S>> {
  if (!response.ok) throw new ApiError(response.status, await failureMessage(response));
  const body = schema.safeParse(await response.json());
  if (!body.success) throw new ApiError(response.status, `${what}: the response does not match the API schema (${body.error.issues[0]?.message ?? 'invalid'})`);
  return body.data;
}

export class ApiClient {
  constructor(private readonly key: string) {}

  private request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}` };
    if (init.body) headers['content-type'] = 'application/json';
    return fetch(path, { ...init, headers, cache: 'no-store' });
  }

  async models(): Promise<ConsoleModel[]> {
    return (await parsed(await this.request('/v1/models'), ModelList, 'GET /v1/models')).models;
  }

  async createJob(request: z.input<typeof JobRequest>): Promise<JobView> {
    return parsed(await this.request('/v1/jobs', { method: 'POST', body: JSON.stringify(request) }), JobView, 'POST /v1/jobs');
  }

  async createBatch(request: z.input<typeof BatchRequest>): Promise<BatchView> {
    return parsed(await this.request('/v1/batches', { method: 'POST', body: JSON.stringify(request) }), BatchView, 'POST /v1/batches');
  }

  async job(id: string): Promise<JobView> {
    return parsed(await this.request(`/v1/jobs/${encodeURIComponent(id)}`), JobView, 'GET /v1/jobs/{id}');
  }

  async steps(id: string): Promise<JobSteps> {
    return parsed(await this.request(`/v1/jobs/${encodeURIComponent(id)}/steps`), JobSteps, 'GET /v1/jobs/{id}/steps');
  }

  async cancel(id: string): Promise<JobView> {
    return parsed(await this.request(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' }), JobView, 'DELETE /v1/jobs/{id}');
  }
}

/** Sends the image to its presigned POST: the returned fields first, the file's own type, the file last (as S3 requires). */
export async function uploadImage(upload: NonNullable<JobView['upload']>, file: File): Promise<void> {
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, name === 'Content-Type' && file.type ? file.type : value);
  form.append('file', file, file.name);
  const response = await fetch(upload.url, { method: 'POST', body: form });
  if (!response.ok) throw new ApiError(response.status, await failureMessage(response));
}
