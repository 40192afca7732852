/** The table of gradient rules, one entry per ONNX op type (default domain). */
import type { ChainRule, VjpRule } from '../rule.ts';
import { attentionChain } from './attention.ts';
import { gatedGeluChain, geluChain } from './gelu-chain.ts';
import { siluChain } from './silu.ts';
import { layerNormChain } from './layer-norm-chain.ts';
import { arithmeticRules } from './arithmetic.ts';
import { linearRules } from './linear.ts';
import { unaryRules } from './unary.ts';
import { convRules } from './conv.ts';
import { softmaxRules } from './softmax.ts';
import { normalizationRules } from './normalization.ts';
import { shapeOpRules } from './shape-ops.ts';
import { resizeRules } from './resize.ts';
import { einsumRules } from './einsum.ts';
import { reduceRules } from './reduce.ts';

export const vjpRules: Readonly<Record<string, VjpRule>> = {
  ...arithmeticRules,
  ...linearRules,
  ...unaryRules,
  ...convRules,
  ...softmaxRules,
  ...normalizationRules,
  ...shapeOpRules,
  ...resizeRules,
  ...einsumRules,
  ...reduceRules,
};

/** Rules for chains of nodes, keyed by the op type of the chain's last node; tried before vjpRules. */
export const chainRules: Readonly<Record<string, readonly ChainRule[]>> = {
  MatMul: [attentionChain],
  Mul: [gatedGeluChain, geluChain, siluChain],
  Div: [layerNormChain],
};
