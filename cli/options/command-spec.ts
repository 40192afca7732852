/**
 * A command's declaration: its positionals and one option table, from which its help, its
 * parsing (node:util parseArgs) and its validation (each option's zod schema) all come. Options
 * that mirror a request field take that field's schema from the contracts, so the CLI and the
 * API accept the same values.
 */
import type { z } from 'zod';

/** An on/off flag (`--json`). */
export interface FlagOption {
  kind: 'flag';
  description: string;
}

/**
 * An option with a value, checked by `schema`: a string, or a number where the schema is
 * numeric. A default in the schema (`.default(x)`) applies when the option is omitted; without
 * one an omitted option is undefined (the command falls back to, e.g., the model's default).
 */
export interface ValueOption<S extends z.ZodType = z.ZodType> {
  kind: 'value';
  /** Placeholder in help, e.g. 'T'; enums show their choices instead. */
  placeholder: string;
  description: string;
  schema: S;
}

export type OptionSpec = FlagOption | ValueOption;

export interface CommandSpec<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  name: string;
  /** Positionals as help shows them, e.g. '<images...>'; empty when the command takes none. */
  positionals: string;
  /** What the command does, one line. */
  summary: string;
  options: O;
}

export function flag(description: string): FlagOption {
  return { kind: 'flag', description };
}

export function value<S extends z.ZodType>(placeholder: string, schema: S, description: string): ValueOption<S> {
  return { kind: 'value', placeholder, description, schema };
}

/** The parsed options: a flag is a boolean; a value is its schema's output, undefined when omitted without a default. */
export type OptionValues<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K] extends ValueOption<infer S>
    ? undefined extends z.input<S>
      ? z.output<S>
      : z.output<S> | undefined
    : boolean;
};

export interface ParsedCommand<O extends Record<string, OptionSpec>> {
  values: OptionValues<O>;
  positionals: string[];
}

/** A command: its table and what it does with what the table parsed. */
export interface Command<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  spec: CommandSpec<O>;
  run(parsed: ParsedCommand<O>): Promise<number>;
}

/** Declares a command; the option table's types carry through to `run`. */
export function defineCommand<const O extends Record<string, OptionSpec>>(spec: CommandSpec<O>, run: (parsed: ParsedCommand<O>) => Promise<number>): Command<O> {
  return { spec, run };
}
