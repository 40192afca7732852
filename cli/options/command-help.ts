/** Help text generated from a command's option table: the one-line synopsis and the option list. */
import type { CommandSpec } from './command-spec.ts';
import { defaultOf, placeholderOf } from './option-schema.ts';

/** e.g. 'invert <images...> [--model M] [--json]'. */
export function synopsis(spec: CommandSpec): string {
  const options = Object.entries(spec.options).map(([name, o]) => (o.kind === 'flag' ? `[--${name}]` : `[--${name} ${placeholderOf(o)}]`));
  return [spec.name, spec.positionals, ...options].filter((part) => part !== '').join(' ');
}

export function commandHelp(spec: CommandSpec): string {
  const rows: [string, string][] = Object.entries(spec.options).map(([name, o]) => {
    if (o.kind === 'flag') return [`--${name}`, o.description];
    const fallback = defaultOf(o);
    return [`--${name} ${placeholderOf(o)}`, fallback === undefined || fallback === '' ? o.description : `${o.description} (default: ${String(fallback)})`];
  });
  rows.push(['--help', 'this help']);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [`usage: preciseinv ${synopsis(spec)}`, '', spec.summary, '', 'options:', ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`)].join('\n');
}
