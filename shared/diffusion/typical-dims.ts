/**
 * The sizes a denoiser typically runs at, for its symbolic input dims: one image at the native
 * latent resolution, 77 text tokens. Exports leave these symbolic; the gradient graph builder
 * uses them to size choices that depend on them (attention groups), never to fix the graph.
 */
import type { GraphProto } from '../onnx/proto/types.ts';
import type { DimValues } from '../onnx/shape/with-input-dims.ts';

/** CLIP's context length: the token count of every SD-family text encoder. */
const TEXT_TOKENS = 77;

/**
 * @param wrt the latent input, whose spatial dims (axes 2 and up) take `sampleSize`
 * @param sampleSize latent pixels per side; without it spatial dims stay symbolic
 */
export function typicalDims(graph: GraphProto, wrt: string, sampleSize: number | undefined): DimValues {
  const dims: Record<string, number> = {};
  for (const input of graph.input) {
    (input.type?.tensorType?.shape ?? []).forEach((d, axis) => {
      const name = d.dimParam;
      if (name === undefined || name in dims) return;
      if (axis === 0) dims[name] = 1;
      else if (input.name === wrt) {
        if (axis >= 2 && sampleSize !== undefined) dims[name] = sampleSize;
      } else dims[name] = TEXT_TOKENS;
    });
  }
  return dims;
}
