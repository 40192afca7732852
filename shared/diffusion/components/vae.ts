/**
 * The VAE of a model folder: vae_encoder maps pixels in [-1, 1] to latent distribution
 * parameters (Optimum: `latent_parameters` = mean ++ logvar along channels; older exports: a
 * sampled `latent_sample`), of which the mean is used, then latent = (mean - shift) * scale.
 * vae_decoder inverts the scaling and maps latents back to pixels. A folder without VAE
 * components is a pixel-space model: the identity stands in, declared as such.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { z } from 'zod';
import { fromOrtTensor, toOrtTensor } from '../../onnx/ort-tensors.ts';
import { TensorDataType } from '../../onnx/proto/types.ts';

const VaeConfig = z
  .object({
    scaling_factor: z.number().positive().default(0.18215),
    shift_factor: z.number().nullable().default(null),
    latent_channels: z.number().int().positive().default(4),
  })
  .passthrough();

export interface Latents {
  data: Float32Array;
  /** [N, C, h, w] */
  dims: number[];
}

export interface Vae {
  readonly identity: boolean;
  readonly latentChannels: number;
  /** Pixel size per latent cell (8 for SD VAEs, 1 for the identity). */
  readonly downscale: number;
  encode(pixels: Float32Array, dims: number[]): Promise<Latents>;
  decode(latents: Latents): Promise<Float32Array>;
  release(): Promise<void>;
}

function readVaeConfig(dir: string): z.infer<typeof VaeConfig> {
  for (const component of ['vae_decoder', 'vae_encoder']) {
    const file = join(dir, component, 'config.json');
    if (existsSync(file)) return VaeConfig.parse(JSON.parse(readFileSync(file, 'utf8')));
  }
  return VaeConfig.parse({});
}

function inputType(session: ort.InferenceSession, name: string): number {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta && meta.isTensor && meta.type === 'float16' ? TensorDataType.FLOAT16 : TensorDataType.FLOAT;
}

export async function openVae(dir: string, sessionOptions: ort.InferenceSession.SessionOptions = {}): Promise<Vae> {
  const encPath = join(dir, 'vae_encoder', 'model.onnx');
  const decPath = join(dir, 'vae_decoder', 'model.onnx');
  if (!existsSync(encPath) && !existsSync(decPath)) return identityVae();
  if (!existsSync(encPath) || !existsSync(decPath)) throw new Error(`${dir} has only one of vae_encoder/model.onnx and vae_decoder/model.onnx; inversion needs both`);
  const config = readVaeConfig(dir);
  const encoder = await ort.InferenceSession.create(encPath, sessionOptions);
  const decoder = await ort.InferenceSession.create(decPath, sessionOptions);
  const scale = config.scaling_factor;
  const shift = config.shift_factor ?? 0;
  const c = config.latent_channels;
  return {
    identity: false,
    latentChannels: c,
    downscale: 8,
    async encode(pixels, dims) {
      const input = encoder.inputNames[0]!;
      const out = await encoder.run({ [input]: toOrtTensor(inputType(encoder, input), pixels, dims) });
      const name = encoder.outputNames.includes('latent_parameters') ? 'latent_parameters' : encoder.outputNames[0]!;
      const t = out[name]!;
      const values = fromOrtTensor(t);
      const [n, channels, h, w] = t.dims as number[];
      // latent_parameters holds mean ++ logvar: keep the first c channels (the mean).
      const keep = name === 'latent_parameters' || channels === 2 * c ? c : channels!;
      const plane = h! * w!;
      const data = new Float32Array(n! * keep * plane);
      for (let i = 0; i < n!; i++) {
        for (let k = 0; k < keep * plane; k++) data[i * keep * plane + k] = (values[i * channels! * plane + k]! - shift) * scale;
      }
      return { data, dims: [n!, keep, h!, w!] };
    },
    async decode(latents) {
      const input = decoder.inputNames[0]!;
      const scaled = latents.data.map((v) => v / scale + shift);
      const out = await decoder.run({ [input]: toOrtTensor(inputType(decoder, input), scaled, latents.dims) });
      return Float32Array.from(fromOrtTensor(out[decoder.outputNames[0]!]!));
    },
    async release() {
      await encoder.release();
      await decoder.release();
    },
  };
}

function identityVae(): Vae {
  return {
    identity: true,
    latentChannels: 3,
    downscale: 1,
    async encode(pixels, dims) {
      return { data: Float32Array.from(pixels), dims: [...dims] };
    },
    async decode(latents) {
      return Float32Array.from(latents.data);
    },
    async release() {},
  };
}
