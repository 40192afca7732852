import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JobView } from '../../shared/contracts/job-view.ts';
import { localApi } from '../api/testing/local-api.ts';
import { authed, PNG_BYTES, uploadForm } from '../../shared/testing/api-client.ts';
import { QueueWorker } from '../worker/queue-worker.ts';
import { TaskProtection } from '../worker/task-protection.ts';
import { StepRunner } from './worker.scenarios.ts';
import { silentLogger, createLogger, type Logger } from '../../shared/platform/logger.ts';
import { protectionMinutes } from '../worker/worker-process.ts';

interface AgentCall {
  method: string;
  path: string;
  body: unknown;
}

/** Stands in for the ECS agent's task-protection endpoint on a random local port. */
async function fakeAgent(reply: (body: { ProtectionEnabled: boolean }) => { status: number; body: unknown } = () => ({ status: 200, body: { protection: {} } })) {
  const calls: AgentCall[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as { ProtectionEnabled: boolean };
      calls.push({ method: req.method!, path: req.url!, body });
      const answer = reply(body);
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3/task-id`, calls };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  const logger = createLogger(
    {},
    {
      write: (line) => {
        const entry = JSON.parse(line) as { level: string; msg: string };
        if (entry.level === 'error') errors.push(entry.msg);
      },
    },
  );
  return Object.assign(logger, { errors });
}

const PATH = '/v3/task-id/task-protection/v1/state';

describe('TaskProtection', () => {
  it('enables on the first job in flight and disables once after the last settles', async () => {
    const agent = await fakeAgent();
    const protection = new TaskProtection({ agentUri: agent.uri, expiresInMinutes: 30, logger: recordingLogger() });
    protection.jobStarted();
    await protection.idle();
    protection.jobStarted();
    protection.jobSettled();
    await protection.idle();
    expect(agent.calls).toEqual([{ method: 'PUT', path: PATH, body: { ProtectionEnabled: true, ExpiresInMinutes: 30 } }]);
    protection.jobSettled();
    await protection.idle();
    expect(agent.calls.map((c) => c.body)).toEqual([{ ProtectionEnabled: true, ExpiresInMinutes: 30 }, { ProtectionEnabled: false }]);
  });

  it('renews on a heartbeat only once more than half of the protection has passed', async () => {
    const agent = await fakeAgent();
    let now = 0;
    const protection = new TaskProtection({ agentUri: agent.uri, expiresInMinutes: 10, logger: recordingLogger(), now: () => now });
    protection.jobStarted();
    await protection.idle();
    now = 4 * 60_000;
    protection.renew();
    await protection.idle();
    expect(agent.calls).toHaveLength(1);
    now = 5 * 60_000 + 1;
    protection.renew();
    await protection.idle();
    expect(agent.calls.map((c) => c.body)).toEqual([
      { ProtectionEnabled: true, ExpiresInMinutes: 10 },
      { ProtectionEnabled: true, ExpiresInMinutes: 10 },
    ]);
  });

  it('makes no calls without ECS_AGENT_URI', async () => {
    const fetch = vi.fn<typeof globalThis.fetch>();
    const protection = new TaskProtection({ agentUri: undefined, logger: recordingLogger(), fetch });
    protection.jobStarted();
    protection.renew();
    protection.jobSettled();
    await protection.idle();
    expect(protection.enabled).toBe(false);
    expect(fetch).not.toHaveBeenCalled();
  });

  it('logs agent failures, error statuses and unreachable agents without throwing', async () => {
    const failing = await fakeAgent(() => ({ status: 200, body: { failure: { Reason: 'TASK_NOT_VALID' } } }));
    const logger = recordingLogger();
    const protection = new TaskProtection({ agentUri: failing.uri, logger });
    protection.jobStarted();
    await protection.idle();
    expect(logger.errors).toEqual(['task scale-in protection: enable failed']);
    // Never protected, so the heartbeat retries instead of waiting for half an hour.
    protection.renew();
    await protection.idle();
    expect(failing.calls).toHaveLength(2);

    const erroring = await fakeAgent(() => ({ status: 500, body: { error: 'boom' } }));
    const second = new TaskProtection({ agentUri: erroring.uri, logger });
    second.jobStarted();
    await second.idle();
    expect(logger.errors).toHaveLength(3);

    const unreachable = new TaskProtection({ agentUri: 'http://127.0.0.1:1/v3/x', logger, requestTimeoutMs: 2000 });
    unreachable.jobStarted();
    unreachable.jobSettled();
    await expect(unreachable.idle()).resolves.toBeUndefined();
  });

  it('lasts the job timeout: configured, else the model registry, else an hour', () => {
    expect(protectionMinutes({ PRECISEINV_MODEL: 'sd14', PRECISEINV_JOB_TIMEOUT_SECONDS: 90 })).toBe(2);
    expect(protectionMinutes({ PRECISEINV_MODEL: 'sd14' })).toBe(30);
    expect(protectionMinutes({ PRECISEINV_MODEL: 'no-such-model' })).toBe(60);
  });
});

describe('the queue worker with task protection', () => {
  it('protects the task while a job runs and lifts it once the job settles', async () => {
    const agent = await fakeAgent();
    const { app, platform } = await localApi();
    const protection = new TaskProtection({ agentUri: agent.uri, expiresInMinutes: 15, logger: recordingLogger() });
    const runner = new StepRunner();
    let callsWhileRunning: AgentCall[] = [];
    runner.gate = async (_jobId, step) => {
      if (step !== 2) return;
      await protection.idle();
      callsWhileRunning = [...agent.calls];
    };
    const created = (await (await app.request('/v1/jobs', authed(undefined, { method: 'POST', body: JSON.stringify({ model: 'tiny', steps: 5 }) }))).json()) as JobView;
    await app.request(created.upload!.url.slice('http://127.0.0.1:8080'.length), { method: 'POST', body: uploadForm(created.upload!.fields, PNG_BYTES) });
    const worker = new QueueWorker(
      { objects: platform.objects, jobs: platform.jobs, queue: platform.queueFor('tiny'), runner, logger: silentLogger(), taskProtection: protection },
      { visibilityTimeoutSeconds: 5, waitSeconds: 1, progressIntervalMs: 0 },
    );
    expect(await worker.runOnce()).toBe(1);
    await protection.idle();
    expect((await platform.jobs.get(created.id))?.value.status).toBe('succeeded');
    expect(callsWhileRunning.map((c) => c.body)).toEqual([{ ProtectionEnabled: true, ExpiresInMinutes: 15 }]);
    expect(agent.calls.map((c) => c.body)).toEqual([{ ProtectionEnabled: true, ExpiresInMinutes: 15 }, { ProtectionEnabled: false }]);
    expect(protection.jobsInFlight).toBe(0);
  });
});
