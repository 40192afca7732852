/**
 * What every benchmark report states about its run (the machine, the revision, the command as
 * typed) and the argument parsing the benchmark scripts share.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let nproc = 'unknown';
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // nproc is coreutils; its absence should not cost a finished run its report.
  }
  return `${nproc} CPUs (\`nproc\`), ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, Node ${process.version}`;
}

export function gitRevision(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** The command as typed (absolute paths made relative), so the report says how to reproduce it. */
export function commandLine(script: string): string {
  const quote = (a: string) => (/^[\w./,=:+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const args = process.argv.slice(2).map((a) => (a.startsWith('/') ? relative(process.cwd(), a) : a));
  return [`npx tsx ${script}`, ...args.map(quote)].join(' ');
}

/** The report line naming the command, the revision and when the run started (UTC, to the minute). */
export function provenance(script: string, started: Date, revision = gitRevision()): string {
  return `Command: \`${commandLine(script)}\` at revision ${revision}, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC.`;
}

/** Writes a report's lines to `path` (creating its folder) and says where. */
export function writeReport(path: string, lines: readonly string[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, lines.join('\n'));
  console.log(`wrote ${path}`);
}

/** A comma-separated flag value as distinct non-empty items. */
export function list(flag: string, text: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new Error(`--${flag} expects a comma-separated list, got '${text}'`);
  return [...new Set(items)];
}

/** A comma-separated flag value whose items must each be one of `allowed`. */
export function choices<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  return list(flag, text).map((item) => {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`--${flag} expects some of ${allowed.join(', ')}, got '${item}'`);
    return item as T;
  });
}

/** --steps as a list of step counts T. */
export function stepCounts(text: string): number[] {
  return list('steps', text).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`--steps expects integers in 1..1000, got '${s}'`);
    return n;
  });
}
