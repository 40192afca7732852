import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InversionParams } from '../../shared/contracts/job-request.ts';
import { commands } from '../commands.ts';
import { invertCommand } from '../invert-command.ts';
import { runCli as run } from '../testing/run-cli.ts';
import { UsageError } from '../usage-error.ts';
import { commandHelp, synopsis } from './command-help.ts';
import type { ValueOption } from './command-spec.ts';
import { schemaFacts } from './option-schema.ts';
import { parseCommand } from './parse-command.ts';

/** Runs the command line in-process and collects what it prints to stdout and stderr. */

/** A value the option's schema accepts, as it would be typed on the command line. */
function acceptedValue(option: ValueOption): string {
  const f = schemaFacts(option.schema);
  if (f.default !== undefined) return String(f.default);
  if (f.enum) return String(f.enum[0]);
  if (f.type === 'integer' || f.type === 'number') return String(f.exclusiveMinimum !== undefined ? f.exclusiveMinimum + 1 : (f.minimum ?? 1));
  return 'x';
}

const flagsIn = (text: string) => [...new Set([...text.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]!))].filter((f) => f !== 'help');

afterEach(() => vi.restoreAllMocks());

describe.each(commands.map((c) => [c.spec.name, c] as const))('preciseinv %s', (_name, command) => {
  const help = commandHelp(command.spec);
  const positionals = command.spec.positionals ? ['input'] : [];

  it('help lists every option of the table, and nothing else', () => {
    expect(flagsIn(help).sort()).toEqual(Object.keys(command.spec.options).sort());
  });

  it('every flag in help parses', () => {
    for (const name of flagsIn(help)) {
      const option = command.spec.options[name]!;
      const args = option.kind === 'flag' ? [`--${name}`] : [`--${name}`, acceptedValue(option)];
      expect(() => parseCommand(command.spec, [...positionals, ...args]), args.join(' ')).not.toThrow();
    }
  });

  it("README's command table shows the synopsis the table generates", () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `(preciseinv [^`]*)`/gm)].map((m) => m[1]!.replaceAll('\\|', '|'));
    expect(rows).toContain(`preciseinv ${synopsis(command.spec)}`);
  });

  it('an unknown flag is a usage error: exit 2, message and usage on stderr, nothing on stdout', async () => {
    const { code, out, err } = await run([command.spec.name, ...positionals, '--frobnicate']);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/Unknown option '--frobnicate'/);
    expect(err).toContain(`usage: preciseinv ${synopsis(command.spec)}`);
  });

  it('--help prints the help on stdout and exits 0', async () => {
    const { code, out, err } = await run([command.spec.name, '--help']);
    expect(code).toBe(0);
    expect(out).toBe(help);
    expect(err).toBe('');
  });
});

describe('preciseinv', () => {
  it('without a command prints the usage on stderr and exits 2', async () => {
    const { code, out, err } = await run([]);
    expect(code).toBe(2);
    expect(out).toBe('');
    for (const c of commands) expect(err).toContain(synopsis(c.spec));
  });

  it('an unknown command exits 2 naming it', async () => {
    const { code, out, err } = await run(['frobnicate']);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/unknown command 'frobnicate'/);
  });

  it('--help prints the usage on stdout and exits 0', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^usage: preciseinv <command>/);
  });
});

describe('invert options follow the request schema (InversionParams)', () => {
  const parse = (args: string[]) => parseCommand(invertCommand.spec, ['a.png', ...args]).values;
  const cases: [flag: string, field: keyof typeof InversionParams.shape, values: number[]][] = [
    ['max-iters', 'maxIters', [0, 1000, 1001, -1, 2.5]],
    ['steps', 'steps', [0, 1, 1000, 1001]],
    ['eta', 'eta', [0, 1e-9, -1]],
    ['guidance', 'guidance', [0, 7.5, -0.5]],
  ];
  it.each(cases)('--%s accepts exactly what the schema accepts', (flag, field, values) => {
    for (const v of values) {
      const accepted = InversionParams.shape[field].safeParse(v).success;
      if (accepted) expect(parse([`--${flag}`, String(v)])[flag as 'steps']).toBe(v);
      else expect(() => parse([`--${flag}`, String(v)]), `--${flag} ${v}`).toThrow(UsageError);
    }
  });

  it('names the flag and the bound it broke', () => {
    expect(() => parse(['--max-iters', '1001'])).toThrow("--max-iters expects an integer in 0..1000, got '1001'");
    expect(() => parse(['--steps', ''])).toThrow("--steps expects an integer in 1..1000, got ''");
  });

  it('omitted options take the table default or stay undefined for the model to fill', () => {
    const values = parse([]);
    expect(values).toMatchObject({ model: 'tiny', descent: 'hybrid', prompt: '', seed: 0, batch: 4, trajectory: false, out: 'inversions', json: false });
    expect(values.steps).toBeUndefined();
    expect(values.eta).toBeUndefined();
    expect(values['max-iters']).toBeUndefined();
  });
});
