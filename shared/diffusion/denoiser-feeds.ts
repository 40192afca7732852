/**
 * Inputs for running a denoiser outside a pipeline (gradient checks, benchmarks): the ones
 * stored beside it in vjp_reference.safetensors when present, else synthetic ones shaped
 * from the graph's declared inputs (batch 2, 77 tokens, 16x16 latents, mid-schedule timestep).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type ort from 'onnxruntime-node';
import { parseSafetensors, tensorToFloat64, type SafetensorsFile } from '../formats/safetensors.ts';
import { randn } from '../numeric/random.ts';
import { toOrtTensor } from '../onnx/ort-tensors.ts';
import { TensorDataType, type ValueInfoProto } from '../onnx/proto/types.ts';

export interface Feed {
  elemType: number;
  dims: number[];
  data: Float64Array;
}

/** Concrete dims for a graph input whose dims may be symbolic. */
function concreteDims(info: ValueInfoProto, latent: number): number[] {
  const shape = info.type?.tensorType?.shape;
  if (!shape) throw new Error(`input '${info.name}' has no declared shape; gradcheck needs one or a vjp_reference.safetensors`);
  return shape.map((d, axis) => {
    if (d.dimValue !== undefined && d.dimParam === undefined) return d.dimValue;
    const name = (d.dimParam ?? '').toLowerCase();
    if (axis === 0 || name.includes('batch')) return 2;
    if (name.includes('seq') || name.includes('token')) return 77;
    // Remaining symbolic dims are spatial (height/width) in every denoiser export we read.
    return latent;
  });
}

export function syntheticFeeds(inputs: ValueInfoProto[], rand: () => number, latent: number): Record<string, Feed> {
  const feeds: Record<string, Feed> = {};
  for (const info of inputs) {
    const elemType = info.type?.tensorType?.elemType ?? TensorDataType.FLOAT;
    const dims = concreteDims(info, latent);
    const n = dims.reduce((a, b) => a * b, 1);
    // Timesteps in the middle of the schedule; everything else standard normal.
    const data = info.name === 'timestep' ? new Float64Array(n).fill(501) : randn(n, rand);
    feeds[info.name] = { elemType, dims, data };
  }
  return feeds;
}


export function toOrt(feeds: Record<string, Feed>): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, toOrtTensor(f.elemType, f.data, f.dims)]));
}

export function denoiserFeeds(
  modelPath: string,
  inputs: ValueInfoProto[],
  rand: () => number,
): { feeds: Record<string, Feed>; reference?: SafetensorsFile; referencePath?: string } {
  const referencePath = join(dirname(modelPath), 'vjp_reference.safetensors');
  if (!existsSync(referencePath)) return { feeds: syntheticFeeds(inputs, rand, 16) };
  const reference = parseSafetensors(readFileSync(referencePath), referencePath);
  const feeds: Record<string, Feed> = {};
  for (const info of inputs) {
    const t = reference.tensors.get(info.name);
    if (!t) throw new Error(`${referencePath} lacks input '${info.name}'`);
    feeds[info.name] = { elemType: info.type?.tensorType?.elemType ?? TensorDataType.FLOAT, dims: t.shape, data: tensorToFloat64(t) };
  }
  return { feeds, reference, referencePath };
}
