/**
 * `preciseinv prepare`: builds the denoiser's gradient graph next to it (model_vjp.onnx),
 * referencing the forward model's weights in place, checks that onnxruntime accepts it, and
 * records it in the folder manifest. Nothing is written unless every step succeeds.
 */
import { renameSync, rmSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import ort from 'onnxruntime-node';
import { buildVjpGraph, defaultOpset, gradName } from '../onnx/autodiff/build-vjp.ts';
import { loadModel, referenceEmbeddedWeights, saveModel } from '../onnx/model-io.ts';
import { readFolderManifest, writeFolderManifest, type GradientGraphRecord } from './folder-manifest.ts';
import { openModelFolder } from './model-folder.ts';

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
  const vjp = buildVjpGraph(loaded.model, { wrt, of });
  const foreign = vjp.graph.node.filter((n) => n.domain !== '' && n.domain !== 'ai.onnx');
  if (foreign.length > 0) throw new Error(`gradient graph would contain non-standard ops: ${foreign.map((n) => `${n.domain}.${n.opType}`).join(', ')}`);
  // Weights embedded in model.onnx are referenced at their byte offsets, not copied.
  referenceEmbeddedWeights(vjp, loaded.path);

  const tmp = `${denoiser.vjpPath}.partial-${process.pid}.onnx`;
  try {
    saveModel(vjp, tmp);
    // ORT resolves external data relative to the model file, so validate from the same folder.
    const session = await ort.InferenceSession.create(tmp);
    const outputs = session.outputNames;
    await session.release();
    if (!outputs.includes(gradName(wrt))) throw new Error(`onnxruntime does not list '${gradName(wrt)}' among the outputs`);
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
    source: { path: relative(folder.dir, loaded.path), bytes: stat.size, mtimeMs: stat.mtimeMs },
    nodes: { forward: loaded.model.graph.node.length, gradient: vjp.graph.node.length },
    builtAt: new Date().toISOString(),
  };
  const manifest = readFolderManifest(folder.dir) ?? { schemaVersion: 1 as const };
  writeFolderManifest(folder.dir, { ...manifest, gradientGraph: record });
  return record;
}
