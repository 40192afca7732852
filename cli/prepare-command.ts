/** `preciseinv prepare <model-dir> [--wrt NAME] [--of NAME] [--json]` */
import { z } from 'zod';
import { prepareGradientGraph } from '../shared/diffusion/prepare-gradient-graph.ts';
import { defineCommand, flag, value } from './options/command-spec.ts';
import { UsageError } from './usage-error.ts';

export const prepareCommand = defineCommand(
  {
    name: 'prepare',
    positionals: '<model-dir>',
    summary: "Validates an Optimum-layout ONNX folder and builds its denoiser's gradient graph (model_vjp.onnx) next to it.",
    options: {
      wrt: value('NAME', z.string().min(1), "denoiser input to differentiate (default: the denoiser's latent input)"),
      of: value('NAME', z.string().min(1), "denoiser output to differentiate (default: the denoiser's output)"),
      json: flag('print one JSON object'),
    },
  },
  async ({ values, positionals }) => {
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
  },
);
