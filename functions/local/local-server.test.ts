import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobView } from '../../shared/contracts/job-view.ts';
import { StepRunner } from './worker.scenarios.ts';
import { startServer } from './local-server.ts';
import { PNG_BYTES, uploadForm } from '../../shared/testing/api-client.ts';
import { freePort } from '../../shared/testing/free-port.ts';


describe('the one-machine server', () => {
  it('takes a job through HTTP from create to downloaded latent, with a generated development key', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'preciseinv-server-'));
    const server = await startServer({ port: await freePort(), dataDir, env: {}, runner: new StepRunner() });
    try {
      const key = (await readFile(join(dataDir, 'dev-api-key'), 'utf8')).trim();
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const created = (await (await fetch(`${server.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ model: 'tiny', steps: 3 }) })).json()) as JobView;
      expect((await fetch(created.upload!.url, { method: 'POST', body: uploadForm(created.upload!.fields, PNG_BYTES) })).status).toBe(204);
      let job = created;
      for (let i = 0; i < 100 && job.status !== 'succeeded'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        job = (await (await fetch(`${server.url}/v1/jobs/${created.id}`, { headers })).json()) as JobView;
      }
      expect(job.status).toBe('succeeded');
      expect(await (await fetch(job.outputs.latent!.url)).text()).toBe(`${created.id} from 0`);
      expect((await fetch(`${server.url}/v1/jobs/${created.id}`)).status).toBe(401);
    } finally {
      await server.stop();
    }
  });
});
