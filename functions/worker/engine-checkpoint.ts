/**
 * The engine's checkpoint bytes: safetensors with x*_i as "latent", x_1..x_i when kept, and as
 * metadata the step records plus what the run was (model, run key, latent length), so a checkpoint
 * from another model, other parameters or another image size is recognised and discarded instead
 * of being fed to the solver.
 */
import { float32Tensor, parseSafetensors, serializeSafetensors, tensorToFloat64 } from '../../shared/formats/safetensors.ts';
import type { ImageState } from '../../shared/inversion/invert-images.ts';
import type { StepRecord } from '../../shared/inversion/step-record.ts';

/** What a checkpoint must match to be resumed. */
export interface CheckpointRun {
  model: string;
  /** Everything else that shapes the run (method, steps, solver settings, prompt, outputs). */
  runKey: string;
  /** Values per latent: channels x height x width for this image at this model's resolution. */
  latentLength: number;
  withTrajectory: boolean;
}

export interface DecodedCheckpoint extends ImageState {
  model: string | undefined;
  runKey: string | undefined;
}

export function encodeCheckpoint(state: ImageState, run: CheckpointRun): Uint8Array {
  const dims = [state.latent.length];
  const tensors = { latent: float32Tensor(state.latent, dims), ...(run.withTrajectory ? Object.fromEntries(state.trajectory.map((x, i) => [`x_${i + 1}`, float32Tensor(x, dims)])) : {}) };
  // JSON turns a NaN residual into null; decodeCheckpoint turns it back.
  return serializeSafetensors(tensors, { completedSteps: String(state.completedSteps), records: JSON.stringify(state.records), model: run.model, runKey: run.runKey });
}

export function decodeCheckpoint(bytes: Uint8Array): DecodedCheckpoint {
  const file = parseSafetensors(bytes, 'checkpoint');
  const latent = file.tensors.get('latent');
  if (!latent) throw new Error('checkpoint has no latent');
  const completedSteps = Number(file.metadata['completedSteps']);
  const records = (JSON.parse(file.metadata['records'] ?? '[]') as (Omit<StepRecord, 'residual'> & { residual: number | null })[]).map((r) => ({ ...r, residual: r.residual ?? Number.NaN }));
  const trajectory: Float32Array[] = [];
  for (let i = 1; file.tensors.has(`x_${i}`); i++) trajectory.push(Float32Array.from(tensorToFloat64(file.tensors.get(`x_${i}`)!)));
  if (!Number.isInteger(completedSteps) || records.length !== completedSteps) throw new Error('checkpoint metadata is inconsistent');
  return { completedSteps, latent: Float32Array.from(tensorToFloat64(latent)), trajectory, records, model: file.metadata['model'], runKey: file.metadata['runKey'] };
}

/**
 * The checkpoint as resume state for this run, or the reason it does not fit (unreadable, another
 * model or run, a latent or trajectory of the wrong size, another step).
 */
export function checkpointForRun(bytes: Uint8Array, step: number, totalSteps: number, run: CheckpointRun): { state: ImageState } | { unfit: string } {
  let decoded: DecodedCheckpoint;
  try {
    decoded = decodeCheckpoint(bytes);
  } catch (error) {
    return { unfit: `unreadable: ${(error as Error).message}` };
  }
  if (decoded.model !== run.model) return { unfit: `written for model '${decoded.model ?? 'unknown'}', not '${run.model}'` };
  if (decoded.runKey !== run.runKey) return { unfit: 'written for other inversion parameters' };
  if (decoded.completedSteps !== step || step > totalSteps) return { unfit: `holds step ${decoded.completedSteps}, named step ${step} of ${totalSteps}` };
  if (decoded.latent.length !== run.latentLength) return { unfit: `latent has ${decoded.latent.length} values, this image needs ${run.latentLength}` };
  if (run.withTrajectory && (decoded.trajectory.length !== step || decoded.trajectory.some((x) => x.length !== run.latentLength))) return { unfit: 'trajectory does not match its steps or latent size' };
  const { model: _model, runKey: _runKey, ...state } = decoded;
  return { state };
}
