import { describe, expect, it } from 'vitest';
import { awsEmulatorEndpoint } from './aws-emulator.ts';
import { startMotoServer } from './moto-server.ts';

describe('the test run’s AWS emulator', () => {
  it('is always there: the global setup started one or was given one', async () => {
    const endpoint = awsEmulatorEndpoint();
    expect(endpoint).toMatch(/^http:\/\//);
    const answer = await fetch(endpoint);
    expect(answer.status).toBeLessThan(500);
  });

  it('names what is missing when moto_server is not installed', async () => {
    await expect(startMotoServer({ command: 'moto_server-not-installed' })).rejects.toThrow("moto_server-not-installed not found on PATH: pip install 'moto[server]'");
  });

  it('reports a server that exits before answering, with its output', async () => {
    await expect(startMotoServer({ command: 'false' })).rejects.toThrow(/false exited \(status 1\) before it answered/);
  });

  it('starts on a free loopback port and is gone after stop', async () => {
    const moto = await startMotoServer();
    expect(moto.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(moto.endpoint)).status).toBeLessThan(500);
    await moto.stop();
    await expect(fetch(moto.endpoint)).rejects.toThrow();
  });
});
