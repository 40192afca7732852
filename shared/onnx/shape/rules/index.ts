/** The table of shape rules, one entry per ONNX op type (default domain). */
import type { ShapeRule } from '../rule.ts';
import { arithmeticShapeRules } from './arithmetic.ts';
import { concatSplitShapeRules } from './concat-split.ts';
import { convShapeRules } from './conv.ts';
import { einsumShapeRules } from './einsum.ts';
import { elementwiseShapeRules } from './elementwise.ts';
import { indexingShapeRules } from './indexing.ts';
import { linearShapeRules } from './linear.ts';
import { normalizationShapeRules } from './normalization.ts';
import { reduceShapeRules } from './reduce.ts';
import { reshapeShapeRules } from './reshape.ts';
import { resizeShapeRules } from './resize.ts';
import { shapeValueShapeRules } from './shape-values.ts';
import { tilePadShapeRules } from './tile-pad.ts';

export const shapeRules: Readonly<Record<string, ShapeRule>> = {
  ...elementwiseShapeRules,
  ...arithmeticShapeRules,
  ...linearShapeRules,
  ...convShapeRules,
  ...normalizationShapeRules,
  ...shapeValueShapeRules,
  ...reshapeShapeRules,
  ...concatSplitShapeRules,
  ...indexingShapeRules,
  ...tilePadShapeRules,
  ...reduceShapeRules,
  ...resizeShapeRules,
  ...einsumShapeRules,
};
