import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelRegistry } from '../models/registry.ts';
import { synthesize, type Synthesized } from './synthesize.ts';

let synthesized: Synthesized;

beforeAll(() => {
  synthesized = synthesize(modelRegistry, { quick: true });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding, error or warning', () => {
    const report = new AwsSolutionsChecks().validateScope(synthesized.stack);
    const findings = report.violations.map(
      (v) => `${v.ruleName} at ${v.violatingResources.map((r) => (r as { constructPath?: string }).constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
  });

  it('gives every AwsSolutions acknowledgment a specific reason', () => {
    const acknowledgments = synthesized.stack.node
      .findAll()
      .flatMap((construct) => construct.node.metadata)
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .filter(([id]) => id.includes('AwsSolutions-'));
    expect(acknowledgments.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledgments) {
      expect(reason.length, id).toBeGreaterThanOrEqual(80);
    }
  });
});
