/**
 * Starts moto_server (the S3 + SQS emulator) on a free loopback port and waits until it answers,
 * so the AWS adapter tests need nothing started by hand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface RunningMotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

export interface MotoServerOptions {
  /** The executable; `moto_server` from PATH unless given. */
  command?: string;
  /** How long to wait for the first answer. */
  readyTimeoutMs?: number;
}

const INSTALL_HINT = "pip install 'moto[server]'";

export async function startMotoServer(options: MotoServerOptions = {}): Promise<RunningMotoServer> {
  const command = options.command ?? 'moto_server';
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const port = await freeLoopbackPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(command, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<Error>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'ENOENT' ? new Error(`${command} not found on PATH: ${INSTALL_HINT}`) : new Error(`${command} could not be started: ${error.message}`));
    });
    child.once('exit', (code, signal) => resolve(new Error(`${command} exited (${signal ?? `status ${code}`}) before it answered on ${endpoint}:\n${stderr}`)));
  });
  const ready = waitUntilAnswering(endpoint, readyTimeoutMs);
  const outcome = await Promise.race([ready.then(() => undefined), exited]);
  if (outcome instanceof Error) {
    await stopChild(child);
    throw outcome;
  }
  return { endpoint, stop: () => stopChild(child) };
}

async function waitUntilAnswering(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await gone;
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
