/**
 * The one onnxruntime session a denoiser runs in. With a prepared gradient graph that is the
 * gradient graph itself, whose backward sits behind an If (onnx/autodiff/backward-gate.ts), so
 * forward-only and gradient runs share one copy of every weight; without one, the forward graph.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { WITH_GRADIENT } from '../onnx/autodiff/backward-gate.ts';
import { OBJECTIVE } from '../onnx/autodiff/residual-objective.ts';
import type { GradientGraphRecord } from './folder-manifest.ts';
import type { ModelFolder } from './model-folder.ts';

export interface DenoiserSession {
  session: ort.InferenceSession;
  /** Whether the session is a gated gradient graph (takes the cotangent and `with_gradient`). */
  gradient: boolean;
  /** Seconds spent creating the session. */
  createSeconds: number;
}

/**
 * Options for a session whose weights the forward and the backward both read. On the CPU
 * provider, the 'all' level's layout transform copies each Conv weight into a blocked layout for
 * the forward while the backward's ConvTranspose reads the original, and prepacking gives
 * MatMul, Gemm and ConvTranspose private packed copies of their constant weights (packed
 * differently for the forward and the backward product): together about a second copy of the
 * weights. Without them every kernel reads the weights where they were loaded, memory-mapped
 * from the external data file. The memory pattern (one block per run, sized for every tensor of
 * the run's plan) is off: with the backward's recomputed tensors it reserved about 0.9 GB more
 * than is ever alive at once at SD 1.5 size, where the arena's ordinary reuse of freed blocks
 * keeps runs as fast (measured in bench/results/full-scale.md).
 */
export function denoiserSessionOptions(executionProviders: ort.InferenceSession.SessionOptions['executionProviders'] = ['cpu']): ort.InferenceSession.SessionOptions {
  return {
    executionProviders,
    graphOptimizationLevel: 'extended',
    enableMemPattern: false,
    extra: { session: { disable_prepacking: '1' } },
  };
}

export async function openDenoiserSession(
  folder: ModelFolder,
  record: GradientGraphRecord | undefined,
  options: ort.InferenceSession.SessionOptions = denoiserSessionOptions(),
): Promise<DenoiserSession> {
  const gradientPath = record ? join(folder.dir, record.path) : undefined;
  const path = gradientPath && existsSync(gradientPath) ? gradientPath : folder.denoiser.path;
  const started = performance.now();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, options);
  } catch (e) {
    throw new Error(`onnxruntime could not open ${path}: ${(e as Error).message}`);
  }
  const createSeconds = (performance.now() - started) / 1000;
  const gradient = path === gradientPath;
  const missing = gradient ? [WITH_GRADIENT, OBJECTIVE.target].find((name) => !session.inputNames.includes(name)) : undefined;
  if (missing) {
    await session.release();
    throw new Error(`${gradientPath} was built by an older \`preciseinv prepare\` (it has no '${missing}' input): run \`preciseinv prepare ${folder.dir}\` again`);
  }
  return { session, gradient, createSeconds };
}
