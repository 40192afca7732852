/** Matching helpers for chain rules: which forward node produced a value. */
import type { NodeProto } from '../../proto/types.ts';
import type { VjpContext } from '../rule.ts';

/** The forward node producing `name` when it is a standard-domain `opType` node, else undefined. */
export function producedBy(ctx: VjpContext, name: string | undefined, opType: string): NodeProto | undefined {
  const n = name ? ctx.producer(name) : undefined;
  return n && n.opType === opType && (n.domain === '' || n.domain === 'ai.onnx') ? n : undefined;
}
