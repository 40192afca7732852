import { describe, expect, it } from 'vitest';
import type { JobSteps } from '../../shared/contracts/job-steps.ts';
import type { JobView } from '../../shared/contracts/job-view.ts';
import type { StepRecord } from '../../shared/inversion/step-record.ts';
import { CheckpointStore } from '../worker/checkpoint-store.ts';
import { encodeCheckpoint } from '../worker/engine-checkpoint.ts';
import { localApi } from '../api/testing/local-api.ts';
import { authed, OTHER_KEY } from '../../shared/testing/api-client.ts';

const record = (step: number, residual: number): StepRecord => ({ step, timestep: 100 * step, iterations: 3 + step, residual, converged: true, forwardEvals: 4 + step, vjpEvals: 3 + step });

async function runningJob(steps: number) {
  const api = await localApi();
  const created = (await (await api.app.request('/v1/jobs', authed(undefined, { method: 'POST', body: JSON.stringify({ model: 'tiny', steps, eta: 0.001 }) }))).json()) as JobView;
  await api.platform.jobs.update(created.id, (job) => ({ ...job, status: 'running', progress: { step: 2, totalSteps: steps } }));
  return { ...api, id: created.id };
}

/** What the worker's checkpoints name their run by; the API reads only their records. */
const run = { model: 'tiny', runKey: 'test-run', latentLength: 12, withTrajectory: false };

const stepsOf = async (app: Awaited<ReturnType<typeof localApi>>['app'], id: string, key?: string): Promise<Response> => app.request(`/v1/jobs/${id}/steps`, authed(key));

describe('GET /v1/jobs/{id}/steps', () => {
  it("reads a running job's steps from the checkpoint the worker wrote last", async () => {
    const { app, platform, id } = await runningJob(4);
    const checkpoints = new CheckpointStore(platform.objects);
    const latent = new Float32Array(12);
    await checkpoints.save(id, { step: 1, totalSteps: 4, state: encodeCheckpoint({ completedSteps: 1, latent, trajectory: [], records: [record(1, 2e-5)] }, run) });
    await checkpoints.save(id, { step: 2, totalSteps: 4, state: encodeCheckpoint({ completedSteps: 2, latent, trajectory: [], records: [record(1, 2e-5), record(2, Number.NaN)] }, run) });
    const response = await stepsOf(app, id);
    expect(response.status).toBe(200);
    const body = (await response.json()) as JobSteps;
    expect(body).toMatchObject({ id, status: 'running', progress: { step: 2, totalSteps: 4 }, eta: 0.001 });
    expect(body.steps.map((s) => [s.step, s.residual, s.iterations, s.forwardEvals + s.vjpEvals])).toEqual([
      [1, 2e-5, 4, 9],
      [2, null, 5, 11],
    ]);
  });

  it("reads a succeeded job's steps from its metrics.json", async () => {
    const { app, platform, id } = await runningJob(2);
    const metricsKey = `results/${id}/metrics.json`;
    await platform.objects.put(metricsKey, new TextEncoder().encode(JSON.stringify({ psnr: 40, perStep: [record(1, 1e-5), record(2, 3e-6)] })));
    await platform.jobs.update(id, (job) => ({ ...job, status: 'succeeded', outputs: { metrics: metricsKey } }));
    const body = (await (await stepsOf(app, id)).json()) as JobSteps;
    expect(body.status).toBe('succeeded');
    expect(body.steps.map((s) => s.residual)).toEqual([1e-5, 3e-6]);
  });

  it('answers no steps before the first checkpoint, and for a checkpoint it cannot read', async () => {
    const { app, platform, id } = await runningJob(4);
    expect(((await (await stepsOf(app, id)).json()) as JobSteps).steps).toEqual([]);
    await platform.objects.put(`checkpoints/${id}/step-000001-of-000004`, new Uint8Array([1, 2, 3]));
    const response = await stepsOf(app, id);
    expect(response.status).toBe(200);
    expect(((await response.json()) as JobSteps).steps).toEqual([]);
  });

  it('is documented in the OpenAPI description with its response schema', async () => {
    const { app } = await localApi();
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> } }> };
    expect(doc.paths['/v1/jobs/{id}/steps']?.get?.responses['200']?.content?.['application/json']?.schema.$ref).toBe('#/components/schemas/JobSteps');
  });

  it("ignores checkpoints of another step count, and hides another key's job", async () => {
    const { app, platform, id } = await runningJob(4);
    await new CheckpointStore(platform.objects).save(id, { step: 1, totalSteps: 8, state: encodeCheckpoint({ completedSteps: 1, latent: new Float32Array(4), trajectory: [], records: [record(1, 1)] }, run) });
    expect(((await (await stepsOf(app, id)).json()) as JobSteps).steps).toEqual([]);
    expect((await stepsOf(app, id, OTHER_KEY)).status).toBe(404);
  });
});
