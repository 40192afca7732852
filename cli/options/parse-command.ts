/** Parses a command's arguments with node:util parseArgs and checks each value with its option's zod schema. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../usage-error.ts';
import type { CommandSpec, OptionSpec, OptionValues, ParsedCommand, ValueOption } from './command-spec.ts';
import { expectedValue, isNumeric } from './option-schema.ts';

/** A raw `--name value` through its option's schema; a UsageError naming the flag and what it expects otherwise. */
export function parseOptionValue(name: string, option: ValueOption, raw: string | undefined): unknown {
  const input = raw === undefined ? undefined : isNumeric(option) ? (raw.trim() === '' ? Number.NaN : Number(raw)) : raw;
  const parsed = option.schema.safeParse(input);
  if (parsed.success) return parsed.data;
  // An omitted option without a default is undefined: the command supplies its own default.
  if (raw === undefined) return undefined;
  throw new UsageError(`--${name} expects ${expectedValue(option)}, got '${raw}'`);
}

function parseArgsOptions(options: Record<string, OptionSpec>): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(Object.entries(options).map(([name, o]) => [name, { type: o.kind === 'flag' ? ('boolean' as const) : ('string' as const) }]));
}

export function parseCommand<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>, argv: readonly string[]): ParsedCommand<O> {
  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: parseArgsOptions(spec.options), allowPositionals: spec.positionals !== '', strict: true });
  } catch (err) {
    // parseArgs reports unknown flags, missing values and stray positionals as TypeErrors with an ERR_PARSE_ARGS_* code.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) throw new UsageError((err as Error).message);
    throw err;
  }
  const values: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(spec.options)) {
    const raw = parsed.values[name];
    values[name] = option.kind === 'flag' ? raw === true : parseOptionValue(name, option, raw as string | undefined);
  }
  return { values: values as OptionValues<O>, positionals: parsed.positionals };
}
