/**
 * Structured JSON log lines with levels, one per event, carrying context fields (job id, model).
 *
 * Built on pino rather than Powertools Logger: the same logger runs in the GPU worker's
 * container, the Lambda API and the local server and CLI, and pino is at home in all of them,
 * while Powertools' additions (Lambda context, cold-start flags) would serve only the Lambda.
 * Call sites see the small port below, so tests can capture lines without pino in their way.
 */
import { pino, stdTimeFunctions } from 'pino';
import { z } from 'zod';

export type LogFields = Record<string, unknown>;

export const LogLevel = z.enum(['debug', 'info', 'warn', 'error']);
export type LogLevel = z.infer<typeof LogLevel>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Lowest level written; default `PRECISEINV_LOG_LEVEL`, else info. */
  level?: LogLevel;
  /** Where each line goes (without its newline); default stdout. */
  write?: (line: string) => void;
}

function wrap(log: pino.Logger): Logger {
  return {
    debug: (msg, fields) => log.debug(fields ?? {}, msg),
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
    child: (fields) => wrap(log.child(fields)),
  };
}

function levelFromEnv(): LogLevel {
  const raw = process.env.PRECISEINV_LOG_LEVEL;
  if (raw === undefined || raw === '') return 'info';
  const level = LogLevel.safeParse(raw);
  if (!level.success) throw new Error(`PRECISEINV_LOG_LEVEL must be one of ${LogLevel.options.join(', ')}, got '${raw}'`);
  return level.data;
}

/** A logger whose every line carries `context`: `{"level":"info","time":"...",...context,...fields,"msg":"..."}`. */
export function createLogger(context: LogFields = {}, options: LoggerOptions = {}): Logger {
  const write = options.write;
  const destination = write ? { write: (chunk: string) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) } : pino.destination({ dest: 1, sync: true });
  const log = pino(
    {
      level: options.level ?? levelFromEnv(),
      base: context,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Errors logged as fields keep their message and stack.
      serializers: { error: pino.stdSerializers.err },
    },
    destination,
  );
  return wrap(log);
}

/** A logger that writes nothing, for tests and tools that only need the port. */
export function silentLogger(): Logger {
  return createLogger({}, { write: () => undefined, level: 'error' });
}
