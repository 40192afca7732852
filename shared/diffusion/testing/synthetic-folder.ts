/**
 * Writes a small Optimum-layout model folder whose "unet" is built in code, for tests of the
 * folder-level commands (prepare, gradcheck) and their failure modes.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphBuilder } from '../../onnx/graph-builder.ts';
import { saveModel } from '../../onnx/model-io.ts';
import { TensorDataType } from '../../onnx/proto/types.ts';
import { tinyModel } from '../../onnx/testing/tiny-model.ts';

export interface SyntheticFolderOptions {
  /** Emits the body; receives sample/timestep/encoder_hidden_states, returns the out_sample value. */
  body?: (b: GraphBuilder) => string;
  opset?: number;
}

/**
 * An unconditional pixel-space model (no VAE, no text encoder): out = 0.5 tanh(conv3x3(x) + t/1000).
 * Small enough to run whole inversions in tests, nonlinear enough that DDIM inversion drifts.
 */
export function writePixelSpaceFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pi-pixel-'));
  const w = Array.from({ length: 3 * 3 * 3 * 3 }, (_, i) => Math.sin(i * 1.7) * 0.35);
  const model = tinyModel({
    opset: 17,
    inputs: [
      { name: 'sample', dims: ['batch', 3, 'height', 'width'] },
      { name: 'timestep', dims: ['batch'] },
    ],
    constants: [{ name: 'w', dims: [3, 3, 3, 3], values: w }],
    build: (b) => {
      const conv = b.op('Conv', ['sample', 'w'], { pads: { kind: 'ints', value: [1, 1, 1, 1] } });
      const t = b.unsqueeze(b.div('timestep', b.scalar(1000, TensorDataType.FLOAT)), [1, 2, 3]);
      const out = b.mul(b.op('Tanh', [b.add(conv, t)]), b.scalar(0.5, TensorDataType.FLOAT));
      return [{ name: b.op('Identity', [out]), dims: ['batch', 3, 'height', 'width'] }];
    },
  });
  model.graph.node.at(-1)!.output = ['out_sample'];
  model.graph.output[0]!.name = 'out_sample';
  mkdirSync(join(dir, 'unet'));
  mkdirSync(join(dir, 'scheduler'));
  saveModel(model, join(dir, 'unet', 'model.onnx'));
  writeFileSync(join(dir, 'unet', 'config.json'), JSON.stringify({ sample_size: 24, in_channels: 3, out_channels: 3 }));
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'DDPMPipeline', unet: ['diffusers', 'UNet2DModel'], scheduler: ['diffusers', 'DDIMScheduler'] }));
  writeFileSync(
    join(dir, 'scheduler', 'scheduler_config.json'),
    JSON.stringify({ _class_name: 'DDIMScheduler', num_train_timesteps: 1000, beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, set_alpha_to_one: false, steps_offset: 1, timestep_spacing: 'leading' }),
  );
  return dir;
}

/** out = sample * w + tanh-free mix of the conditioning: (sample - c) * sample * w, all broadcasting. */
function defaultBody(b: GraphBuilder): string {
  const ctx = b.reduceMean('encoder_hidden_states', [1, 2], false); // [N]
  const c = b.unsqueeze(ctx, [1, 2, 3]);
  const shifted = b.sub('sample', c);
  return b.mul(b.mul(shifted, 'sample'), 'w');
}

export function writeSyntheticFolder(options: SyntheticFolderOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'pi-folder-'));
  const opset = options.opset ?? 17;
  const w = Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.cos(i) * 0.5);
  const model = tinyModel({
    opset,
    inputs: [
      { name: 'sample', dims: ['batch', 4, 8, 8] },
      { name: 'timestep', dims: ['batch'] },
      { name: 'encoder_hidden_states', dims: ['batch', 'sequence', 32] },
    ],
    constants: [{ name: 'w', dims: [4, 8, 8], values: w, elemType: TensorDataType.FLOAT }],
    build: (b) => {
      const out = (options.body ?? defaultBody)(b);
      return [{ name: b.op('Identity', [out], {}, 'out_sample'), dims: ['batch', 4, 8, 8] }];
    },
  });
  const last = model.graph.node.at(-1)!;
  last.output = ['out_sample'];
  model.graph.output[0]!.name = 'out_sample';
  mkdirSync(join(dir, 'unet'));
  mkdirSync(join(dir, 'scheduler'));
  saveModel(model, join(dir, 'unet', 'model.onnx'));
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'] }));
  writeFileSync(join(dir, 'scheduler', 'scheduler_config.json'), JSON.stringify({ _class_name: 'DDIMScheduler', num_train_timesteps: 1000 }));
  return dir;
}
