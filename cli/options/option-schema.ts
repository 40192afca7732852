/** What an option's zod schema accepts, in words and as a help placeholder, from its JSON Schema. */
import { z } from 'zod';
import type { ValueOption } from './command-spec.ts';

interface JsonSchemaFacts {
  type?: string;
  enum?: readonly (string | number)[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  default?: unknown;
}

export function schemaFacts(schema: z.ZodType): JsonSchemaFacts {
  return z.toJSONSchema(schema, { io: 'input' }) as JsonSchemaFacts;
}

/** Whether the option's value is read as a number. */
export function isNumeric(option: ValueOption): boolean {
  const t = schemaFacts(option.schema).type;
  return t === 'number' || t === 'integer';
}

// z.number().int() reports the safe-integer range; that bound is not one a user needs to read.
const bounded = (x: number | undefined): x is number => x !== undefined && Math.abs(x) < Number.MAX_SAFE_INTEGER;

/** e.g. 'an integer in 1..1000', 'a positive number', 'one of hybrid, lbfgs, gradient'. */
export function expectedValue(option: ValueOption): string {
  const f = schemaFacts(option.schema);
  if (f.enum) return `one of ${f.enum.join(', ')}`;
  if (f.type === 'integer' || f.type === 'number') {
    const noun = f.type === 'integer' ? 'an integer' : 'a number';
    const min = bounded(f.minimum) ? f.minimum : undefined;
    const max = bounded(f.maximum) ? f.maximum : undefined;
    if (min !== undefined && max !== undefined) return `${noun} in ${min}..${max}`;
    if (f.exclusiveMinimum === 0 || (f.type === 'integer' && min === 1)) return `a positive ${noun.split(' ')[1]}`;
    if (min === 0) return `a non-negative ${noun.split(' ')[1]}`;
    if (min !== undefined) return `${noun} >= ${min}`;
    if (max !== undefined) return `${noun} <= ${max}`;
    return noun;
  }
  if (f.maxLength !== undefined) return `text of at most ${f.maxLength} characters`;
  if (f.minLength) return 'a non-empty value';
  return 'a value';
}

/** The placeholder help shows: the choices of an enum, else the declared placeholder. */
export function placeholderOf(option: ValueOption): string {
  const f = schemaFacts(option.schema);
  return f.enum ? f.enum.join('|') : option.placeholder;
}

/** The value an omitted option takes, if its schema has a default. */
export function defaultOf(option: ValueOption): unknown {
  return schemaFacts(option.schema).default;
}
