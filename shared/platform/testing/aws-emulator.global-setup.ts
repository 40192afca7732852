/**
 * Gives every test run an S3 + SQS emulator: the one named by PRECISEINV_TEST_AWS_ENDPOINT, or a
 * moto_server started here on a free loopback port and stopped after the run.
 */
import type { TestProject } from 'vitest/node';
import './aws-emulator-context.ts';
import { startMotoServer } from './moto-server.ts';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = process.env.PRECISEINV_TEST_AWS_ENDPOINT;
  if (given) {
    project.provide('awsEmulatorEndpoint', given);
    return undefined;
  }
  const moto = await startMotoServer();
  project.provide('awsEmulatorEndpoint', moto.endpoint);
  return () => moto.stop();
}
