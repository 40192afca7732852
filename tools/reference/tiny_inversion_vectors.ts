/**
 * Reference vectors for shared/inversion/torch-reference.test.ts: a 32x32 crop of a held-out
 * photograph as x0, and the x_T that the torch implementation (preciseinv_torch.py, autograd for
 * J^T r) computes from it with naive DDIM inversion and with plain-gradient PreciseInv at T=4.
 * Plain gradient descent is the variant whose x_T is stable under float32 rounding (L-BFGS
 * amplifies rounding along nearly flat directions; see bench/results/torch-reference.md).
 *
 *   npx tsx tools/reference/tiny_inversion_vectors.ts   (needs tools/.venv with torch)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage } from '../../shared/diffusion/image/decode-image.ts';
import { prepareImage } from '../../shared/diffusion/image/prepare-image.ts';
import { float32Tensor, parseSafetensors, serializeSafetensors, tensorToFloat64 } from '../../shared/formats/safetensors.ts';

const VECTOR_SETTINGS = { image: 'models/tiny/holdout/chelsea.png', size: 32, steps: 4, eta: 1e-4, maxIters: 20 } as const;
const OUT = 'shared/inversion/testdata/tiny-torch-inversion.safetensors';

const s = VECTOR_SETTINGS;
const image = await prepareImage(await decodeImage(new Uint8Array(readFileSync(s.image)), s.image), { width: s.size, height: s.size });
const dims = [3, s.size, s.size];
const work = mkdtempSync(join(tmpdir(), 'tiny-vectors-'));
writeFileSync(join(work, 'x0.safetensors'), serializeSafetensors({ x0: float32Tensor(image.chw, dims) }));

const runs = [
  { name: 'ddim', args: ['--method', 'ddim'] },
  { name: 'preciseinv_gradient', args: ['--method', 'preciseinv', '--descent', 'gradient', '--eta', String(s.eta), '--max-iters', String(s.maxIters)] },
];
const tensors: Record<string, ReturnType<typeof float32Tensor>> = { x0: float32Tensor(image.chw, dims) };
for (const run of runs) {
  const out = join(work, `${run.name}.safetensors`);
  execFileSync('tools/.venv/bin/python', ['tools/reference/preciseinv_torch.py', '--x0', join(work, 'x0.safetensors'), '--out', out, '--json', join(work, `${run.name}.json`), '--steps', String(s.steps), ...run.args], { stdio: 'inherit' });
  const xT = parseSafetensors(new Uint8Array(readFileSync(out))).tensors.get('x0');
  if (!xT) throw new Error(`${out} holds no x_T named 'x0'`);
  tensors[`xT_${run.name}`] = float32Tensor(Float32Array.from(tensorToFloat64(xT)), dims);
}
writeFileSync(OUT, serializeSafetensors(tensors, Object.fromEntries(Object.entries(s).map(([k, v]) => [k, String(v)]))));
console.log(`wrote ${OUT}`);
