/** The `preciseinv` command line: dispatches to one module per command. */
import { EDIT_USAGE, editCommand } from './edit-command.ts';
import { gradcheckCommand } from './gradcheck-command.ts';
import { INTERPOLATE_USAGE, interpolateCommand } from './interpolate-command.ts';
import { invertCommand } from './invert-command.ts';
import { modelsCommand } from './models-command.ts';
import { prepareCommand } from './prepare-command.ts';
import { serveCommand } from './serve-command.ts';
import { UsageError } from './usage-error.ts';

const COMMANDS: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  invert: { summary: 'invert <images...> [--model M] [--method preciseinv|ddim|fixed-point] [--steps T] [--eta E] [--max-iters K] [--descent hybrid|lbfgs|gradient] [--prompt P] [--guidance W] [--out DIR] [--json]', run: invertCommand },
  edit: { summary: EDIT_USAGE, run: editCommand },
  interpolate: { summary: INTERPOLATE_USAGE, run: interpolateCommand },
  models: { summary: 'models [--json]                 list the model registry', run: modelsCommand },
  prepare: { summary: 'prepare <model-dir>            build the denoiser gradient graph (model_vjp.onnx)', run: prepareCommand },
  serve: { summary: 'serve [--port P] [--data-dir D] [--model M]  the API and a worker on this machine (default model: tiny)', run: serveCommand },
  gradcheck: { summary: 'gradcheck <model-dir> [--json]  check the gradient graph against finite differences and torch', run: gradcheckCommand },
};

function usage(): string {
  return ['usage: preciseinv <command> [options]', '', 'commands:', ...Object.values(COMMANDS).map((c) => `  ${c.summary}`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`preciseinv: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: preciseinv ${command.summary}`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`preciseinv ${name}: ${e.message}`);
      return 2;
    }
    console.error(`preciseinv ${name}: ${(e as Error).message}`);
    return 1;
  }
}
