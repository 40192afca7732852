/** Conv and ConvTranspose: spatial output sizes from kernel, strides, pads, dilations, auto_pad. */
import type { Dims, ShapeRule } from '../rule.ts';

function convOut(inp: number | null, k: number, stride: number, pb: number, pe: number, dil: number): number | null {
  if (inp === null) return null;
  return Math.floor((inp + pb + pe - ((k - 1) * dil + 1)) / stride) + 1;
}

function convLike(transpose: boolean): ShapeRule {
  return (v) => {
    const x = v.in(0);
    const w = v.in(1)?.dims;
    const elemType = x?.elemType ?? 0;
    if (!x?.dims || !w) return [{ elemType }];
    const spatial = x.dims.length - 2;
    const kernel = v.attrInts('kernel_shape') ?? (w.slice(2) as number[]);
    const strides = v.attrInts('strides') ?? new Array(spatial).fill(1);
    const dil = v.attrInts('dilations') ?? new Array(spatial).fill(1);
    const pads = v.attrInts('pads') ?? new Array(2 * spatial).fill(0);
    const autoPad = v.attrString('auto_pad', 'NOTSET');
    const group = v.attrInt('group', 1);
    const outC = transpose ? (w[1] === null ? null : w[1]! * group) : w[0]!;
    const dims: Dims = [x.dims[0]!, outC];
    const outPad = v.attrInts('output_padding') ?? new Array(spatial).fill(0);
    const outShape = v.attrInts('output_shape');
    for (let i = 0; i < spatial; i++) {
      const inp = x.dims[2 + i]!;
      const s = strides[i]!;
      if (transpose) {
        if (outShape) dims.push(outShape[i]!);
        else if (inp === null) dims.push(null);
        else dims.push(s * (inp - 1) + outPad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - pads[i]! - pads[i + spatial]!);
      } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
        dims.push(inp === null ? null : Math.ceil(inp / s));
      } else if (autoPad === 'VALID') {
        dims.push(convOut(inp, kernel[i]!, s, 0, 0, dil[i]!));
      } else {
        dims.push(convOut(inp, kernel[i]!, s, pads[i]!, pads[i + spatial]!, dil[i]!));
      }
    }
    return [{ elemType, dims }];
  };
}

export const convShapeRules: Record<string, ShapeRule> = {
  Conv: convLike(false),
  ConvTranspose: convLike(true),
};
