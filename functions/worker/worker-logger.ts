/** Structured JSON log lines, one per event, carrying the job id and other context fields. */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export function jsonLogger(context: LogFields = {}, write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Logger {
  const emit = (level: string, msg: string, fields?: LogFields): void => write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...context, ...fields }));
  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => jsonLogger({ ...context, ...fields }, write),
  };
}
