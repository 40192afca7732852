/** `preciseinv gradcheck <model-dir> [--json] [--directions N] [--seed S] [--tolerance T]` */
import { z } from 'zod';
import { gradcheck } from '../shared/diffusion/gradcheck.ts';
import { defineCommand, flag, value } from './options/command-spec.ts';
import { UsageError } from './usage-error.ts';

export const gradcheckCommand = defineCommand(
  {
    name: 'gradcheck',
    positionals: '<model-dir>',
    summary: 'Checks the gradient graph against central finite differences and, where the folder ships a reference, torch autograd; exits 1 above tolerance.',
    options: {
      json: flag('print one JSON object with model, maxRelError, ok and the details'),
      directions: value('N', z.number().positive(), 'random directions for finite differences'),
      seed: value('S', z.number().positive(), 'seed of the random directions'),
      tolerance: value('T', z.number().positive(), 'largest relative error that passes'),
    },
  },
  async ({ values, positionals }) => {
    if (positionals.length !== 1) throw new UsageError('expected exactly one model folder');
    const report = await gradcheck(positionals[0]!, {
      directions: values.directions,
      seed: values.seed,
      tolerance: values.tolerance,
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
  },
);
