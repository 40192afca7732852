import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from './logger.ts';

function capture(level?: 'debug' | 'info' | 'warn' | 'error') {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ service: 'test' }, { write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>), ...(level ? { level } : {}) });
  return { logger, lines };
}

afterEach(() => vi.unstubAllEnvs());

describe('createLogger', () => {
  it('writes one JSON line per event with level, ISO time, context, fields and message', () => {
    const { logger, lines } = capture();
    logger.info('job started', { jobId: 'j1' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', service: 'test', jobId: 'j1', msg: 'job started' });
    expect(new Date(String(lines[0]!.time)).toISOString()).toBe(lines[0]!.time);
  });

  it('a child adds its fields to every line of its own and keeps the parent unchanged', () => {
    const { logger, lines } = capture();
    logger.child({ model: 'tiny' }).warn('slow step', { step: 3 });
    logger.error('failed');
    expect(lines[0]).toMatchObject({ level: 'warn', service: 'test', model: 'tiny', step: 3, msg: 'slow step' });
    expect(lines[1]).toMatchObject({ level: 'error', msg: 'failed' });
    expect(lines[1]).not.toHaveProperty('model');
  });

  it('drops events below its level', () => {
    const { logger, lines } = capture('warn');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    expect(lines.map((l) => l.msg)).toEqual(['w']);
  });

  it('takes its level from PRECISEINV_LOG_LEVEL and names the variable when it is not a level', () => {
    vi.stubEnv('PRECISEINV_LOG_LEVEL', 'debug');
    const { logger, lines } = capture();
    logger.debug('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
    vi.stubEnv('PRECISEINV_LOG_LEVEL', 'loud');
    expect(() => capture()).toThrow("PRECISEINV_LOG_LEVEL must be one of debug, info, warn, error, got 'loud'");
  });

  it('logs an Error field with its message and stack', () => {
    const { logger, lines } = capture();
    logger.error('unhandled', { error: new Error('boom') });
    expect(lines[0]!.error).toMatchObject({ message: 'boom', type: 'Error' });
    expect(String((lines[0]!.error as { stack: string }).stack)).toMatch(/boom/);
  });
});
