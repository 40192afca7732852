/**
 * The `preciseinv` command line: finds the command, parses its arguments through its option
 * table and runs it. A mistake in how it was called prints the message and the usage to stderr
 * and exits 2; a failure while running exits 1.
 */
import { commands } from './commands.ts';
import { commandHelp, synopsis } from './options/command-help.ts';
import { parseCommand } from './options/parse-command.ts';
import { UsageError } from './usage-error.ts';

export function usage(): string {
  return ['usage: preciseinv <command> [options]', '', 'commands:', ...commands.map((c) => `  ${synopsis(c.spec)}`), '', '`preciseinv <command> --help` describes each option.'].join('\n');
}

const isHelp = (arg: string) => arg === '--help' || arg === '-h';

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    console.error(usage());
    return 2;
  }
  if (isHelp(name) || name === 'help') {
    console.log(usage());
    return 0;
  }
  const command = commands.find((c) => c.spec.name === name);
  if (!command) {
    console.error(`preciseinv: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  if (rest.some(isHelp)) {
    console.log(commandHelp(command.spec));
    return 0;
  }
  try {
    return await command.run(parseCommand(command.spec, rest));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`preciseinv ${name}: ${e.message}\n\nusage: preciseinv ${synopsis(command.spec)}`);
      return 2;
    }
    console.error(`preciseinv ${name}: ${(e as Error).message}`);
    return 1;
  }
}
