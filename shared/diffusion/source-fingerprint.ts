/**
 * A cheap fingerprint of the forward denoiser a gradient graph was built from. The gradient graph
 * reads the forward model's weights in place, at byte offsets recorded when it was built, so a
 * replaced model.onnx (or its external data) would silently feed it wrong weights. Hashed: each
 * file's size, the whole model.onnx up to 64 MiB (else its first and last 4 MiB), and the first and
 * last 1 MiB of each external data file; milliseconds even for a multi-GB model.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const WHOLE_LIMIT = 64 * 1024 * 1024;
const MODEL_EDGE = 4 * 1024 * 1024;
const DATA_EDGE = 1024 * 1024;
/** Where exporters put a denoiser's weights when they are not embedded. */
const EXTERNAL_DATA_NAMES = ['model.onnx_data', 'model.onnx.data', 'weights.pb'];

function hashEdges(hash: Hash, path: string, edge: number): void {
  const size = statSync(path).size;
  hash.update(`${basename(path)}\0${size}\0`);
  const fd = openSync(path, 'r');
  try {
    const ranges: [number, number][] = size <= 2 * edge ? [[0, size]] : [[0, edge], [size - edge, edge]];
    for (const [start, length] of ranges) {
      const buffer = Buffer.alloc(length);
      let read = 0;
      while (read < length) {
        const n = readSync(fd, buffer, read, length - read, start + read);
        if (n === 0) break;
        read += n;
      }
      hash.update(buffer.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
}

/** sha256 hex over the forward model file and its external data files (see above). */
export function sourceFingerprint(modelPath: string): string {
  const hash = createHash('sha256');
  hashEdges(hash, modelPath, statSync(modelPath).size <= WHOLE_LIMIT ? WHOLE_LIMIT : MODEL_EDGE);
  for (const name of EXTERNAL_DATA_NAMES) {
    const data = join(dirname(modelPath), name);
    if (existsSync(data)) hashEdges(hash, data, DATA_EDGE);
  }
  return hash.digest('hex');
}

/** The forward model changed after its gradient graph was built. */
export class StaleGradientGraphError extends Error {
  override name = 'StaleGradientGraphError';
}

/**
 * Throws StaleGradientGraphError when the forward model differs from the one the gradient graph was
 * built from: by fingerprint where the record has one, else (records from before fingerprints) by size.
 */
export function checkGradientSource(dir: string, source: { path: string; bytes: number; fingerprint?: string | undefined }, gradientPath: string): void {
  const modelPath = join(dir, source.path);
  const again = `run \`preciseinv prepare ${dir}\` again`;
  if (!existsSync(modelPath)) throw new StaleGradientGraphError(`${gradientPath} was built from ${modelPath}, which is gone: ${again}`);
  const bytes = statSync(modelPath).size;
  const changed = bytes !== source.bytes || (source.fingerprint !== undefined && sourceFingerprint(modelPath) !== source.fingerprint);
  if (changed) throw new StaleGradientGraphError(`${modelPath} changed after ${gradientPath} was built from it (the gradient graph would read its weights at stale offsets): ${again}`);
}
