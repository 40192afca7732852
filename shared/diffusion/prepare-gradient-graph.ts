/**
 * `preciseinv prepare`: builds the denoiser's gradient graph next to it (model_vjp.onnx), with
 * the inversion step's residual objective in the same graph (onnx/autodiff/residual-objective.ts),
 * referencing the forward model's weights in place, checks that onnxruntime accepts it, and
 * records it in the folder manifest. Nothing is written unless every step succeeds. No weight
 * byte is read: the graph refers to the weights by file offset, and onnxruntime validates a
 * copy in which they are declared graph inputs instead.
 */
import { renameSync, rmSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import ort from 'onnxruntime-node';
import { allNodes } from '../onnx/autodiff/backward-gate.ts';
import { buildVjpGraph, defaultOpset, gradName } from '../onnx/autodiff/build-vjp.ts';
import { addResidualObjective } from '../onnx/autodiff/residual-objective.ts';
import { loadModel, referenceEmbeddedWeights, saveModel, serializeModel } from '../onnx/model-io.ts';
import type { ModelProto } from '../onnx/proto/types.ts';
import { isExternal } from '../onnx/tensor.ts';
import { readFolderManifest, writeFolderManifest, type GradientGraphRecord } from './folder-manifest.ts';
import { openModelFolder } from './model-folder.ts';
import { sourceFingerprint } from './source-fingerprint.ts';
import { typicalDims } from './typical-dims.ts';

export interface PrepareOptions {
  /** Override the input differentiated with respect to (default: the denoiser's latent). */
  wrt?: string;
  /** Override the differentiated output. */
  of?: string;
}

export async function prepareGradientGraph(dir: string, options: PrepareOptions = {}): Promise<GradientGraphRecord> {
  const folder = openModelFolder(dir);
  const { denoiser } = folder;
  const wrt = options.wrt ?? denoiser.wrt;
  const of = options.of ?? denoiser.of;
  const loaded = loadModel(denoiser.path);
  const vjp = addResidualObjective(buildVjpGraph(loaded.model, { wrt, of, typicalDims: typicalDims(loaded.model.graph, wrt, denoiser.sampleSize) }), { wrt, of });
  const foreign = vjp.graph.node.filter((n) => n.domain !== '' && n.domain !== 'ai.onnx');
  if (foreign.length > 0) throw new Error(`gradient graph would contain non-standard ops: ${foreign.map((n) => `${n.domain}.${n.opType}`).join(', ')}`);
  // Weights embedded in model.onnx are referenced at their byte offsets, not copied.
  referenceEmbeddedWeights(vjp, loaded.path);

  const tmp = `${denoiser.vjpPath}.partial-${process.pid}.onnx`;
  try {
    saveModel(vjp, tmp);
    await validateWithoutWeights(vjp, gradName(wrt));
    renameSync(tmp, denoiser.vjpPath);
  } finally {
    rmSync(tmp, { force: true });
  }

  const stat = statSync(loaded.path);
  const record: GradientGraphRecord = {
    component: denoiser.component,
    path: relative(folder.dir, denoiser.vjpPath),
    wrt,
    of,
    cotangentInput: gradName(of),
    gradientOutput: gradName(wrt),
    opset: defaultOpset(loaded.model),
    source: { path: relative(folder.dir, loaded.path), bytes: stat.size, mtimeMs: stat.mtimeMs, fingerprint: sourceFingerprint(loaded.path) },
    nodes: { forward: loaded.model.graph.node.length, gradient: allNodes(vjp.graph).length },
    builtAt: new Date().toISOString(),
  };
  const manifest = readFolderManifest(folder.dir) ?? { schemaVersion: 1 as const };
  writeFolderManifest(folder.dir, { ...manifest, gradientGraph: record });
  return record;
}

/**
 * Creates an onnxruntime session (graph checks, type and shape inference, a kernel for every
 * node) on a copy of the gradient graph whose external weights are graph inputs of the same type
 * and shape: the check needs no weight bytes, so it costs what the graph's structure costs.
 * Optimizations are off: they would only fold what the real session folds anyway.
 */
async function validateWithoutWeights(vjp: ModelProto, gradientOutput: string): Promise<void> {
  const weights = vjp.graph.initializer.filter(isExternal);
  const names = new Set(weights.map((t) => t.name));
  const declared = vjp.graph.input.filter((i) => !names.has(i.name));
  const skeleton: ModelProto = {
    ...vjp,
    graph: {
      ...vjp.graph,
      initializer: vjp.graph.initializer.filter((t) => !names.has(t.name)),
      input: [...declared, ...weights.map((t) => ({ name: t.name, type: { tensorType: { elemType: t.dataType, shape: t.dims.map((d) => ({ dimValue: d })) } } }))],
    },
  };
  const session = await ort.InferenceSession.create(serializeModel(skeleton), { graphOptimizationLevel: 'disabled' });
  const outputs = session.outputNames;
  await session.release();
  if (!outputs.includes(gradientOutput)) throw new Error(`onnxruntime does not list '${gradientOutput}' among the outputs`);
}
