/** `preciseinv gradcheck <model-dir> [--json] [--directions N] [--seed S] [--tolerance T]` */
import { parseArgs } from 'node:util';
import { gradcheck } from '../shared/diffusion/gradcheck.ts';
import { UsageError } from './usage-error.ts';

function positiveNumber(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} expects a positive number, got '${raw}'`);
  return n;
}

export async function gradcheckCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      directions: { type: 'string' },
      seed: { type: 'string' },
      tolerance: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('expected exactly one model folder');
  const report = await gradcheck(positionals[0]!, {
    directions: positiveNumber('directions', values.directions),
    seed: positiveNumber('seed', values.seed),
    tolerance: positiveNumber('tolerance', values.tolerance),
  });
  if (values.json) console.log(JSON.stringify(report));
  else {
    const fd = report.finiteDifference;
    console.log(`${positionals[0]} (${report.component}, ${report.precision}, d ${report.of} / d ${report.wrt})`);
    console.log(`  finite differences, ${fd.directions} directions: max rel error ${fd.maxRelError.toExponential(2)} (tolerance ${fd.tolerance})`);
    if (report.torch) {
      console.log(`  torch autograd reference: gradient ${report.torch.gradMaxRelError.toExponential(2)}, forward ${report.torch.forwardMaxRelError.toExponential(2)} (tolerance ${report.torch.tolerance})`);
    } else console.log('  torch autograd reference: none in this folder');
    const o = report.objective;
    console.log(
      `  fused step objective: gradient vs forward + gradient runs ${o.separateRunsMaxRelError.toExponential(2)} (tolerance ${o.tolerance.exact}), ` +
        `loss finite differences, ${o.finiteDifference.directions} directions ${o.finiteDifference.maxRelError.toExponential(2)} (tolerance ${o.tolerance.fd})` +
        (o.torchMaxRelError === undefined ? '' : `, vs torch ${o.torchMaxRelError.toExponential(2)} (tolerance ${o.tolerance.exact})`),
    );
    console.log(`  max relative error ${report.maxRelError.toExponential(2)}: ${report.ok ? 'ok' : 'FAILED'}`);
  }
  return report.ok ? 0 : 1;
}
