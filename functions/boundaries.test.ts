/**
 * The API and the worker are deployed apart (a Lambda, a GPU container) and share only shared/:
 * neither imports the other, their tests included. functions/local is where they meet.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const FUNCTIONS = import.meta.dirname;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every relative module a file imports (static or dynamic), as a path from functions/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => relative(FUNCTIONS, resolve(dirname(file), m[1]!)));
}

const rules: [from: string, forbidden: string[]][] = [
  ['api', ['worker', 'local']],
  ['worker', ['api', 'local']],
];

describe('functions/ boundaries', () => {
  it.each(rules)('functions/%s imports nothing from %j', (from, forbidden) => {
    const files = tsFiles(join(FUNCTIONS, from));
    expect(files.length).toBeGreaterThan(0);
    const crossings = files.flatMap((f) => importsOf(f).filter((target) => forbidden.some((dir) => target.startsWith(`${dir}/`))).map((target) => `${relative(FUNCTIONS, f)} -> ${target}`));
    expect(crossings).toEqual([]);
  });

  it('the check sees a crossing: functions/local imports both', () => {
    const targets = tsFiles(join(FUNCTIONS, 'local')).flatMap(importsOf);
    expect(targets.some((t) => t.startsWith('api/'))).toBe(true);
    expect(targets.some((t) => t.startsWith('worker/'))).toBe(true);
  });
});
