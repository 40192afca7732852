/** `preciseinv prepare <model-dir> [--wrt NAME] [--of NAME] [--json]` */
import { parseArgs } from 'node:util';
import { prepareGradientGraph } from '../shared/diffusion/prepare-gradient-graph.ts';
import { UsageError } from './usage-error.ts';

export async function prepareCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { wrt: { type: 'string' }, of: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) throw new UsageError('expected exactly one model folder, e.g. `preciseinv prepare models/fixtures/sd15-torchscript`');
  const started = performance.now();
  const record = await prepareGradientGraph(positionals[0]!, { wrt: values.wrt, of: values.of });
  const seconds = (performance.now() - started) / 1000;
  if (values.json) console.log(JSON.stringify({ model: positionals[0], ...record, seconds }));
  else {
    console.log(
      `${positionals[0]}: wrote ${record.path} (d ${record.of} / d ${record.wrt}, opset ${record.opset}, ` +
        `${record.nodes.forward} forward + ${record.nodes.gradient - record.nodes.forward} gradient nodes) in ${seconds.toFixed(1)} s`,
    );
  }
  return 0;
}
